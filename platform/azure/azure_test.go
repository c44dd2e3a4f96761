package azure_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/contoso/orderflow/platform/azure"
	"github.com/contoso/orderflow/platform/config"
)

// fakeEntra is a minimal Entra authority host serving OIDC discovery and the token
// endpoint over TLS, recording what it was asked.
type fakeEntra struct {
	srv       *httptest.Server
	mu        sync.Mutex
	paths     []string
	assertion string
}

func newFakeEntra(t *testing.T) *fakeEntra {
	f := &fakeEntra{}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.paths = append(f.paths, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		base := f.srv.URL + "/tenant-1"
		switch {
		case strings.HasSuffix(r.URL.Path, "/v2.0/.well-known/openid-configuration"):
			_ = json.NewEncoder(w).Encode(map[string]any{
				"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
				"token_endpoint":                        base + "/oauth2/v2.0/token",
				"issuer":                                base + "/v2.0",
				"jwks_uri":                              base + "/discovery/v2.0/keys",
				"response_types_supported":              []string{"code", "id_token", "token"},
				"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt"},
			})
		case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
			_ = r.ParseForm()
			f.mu.Lock()
			f.assertion = r.PostForm.Get("client_assertion")
			f.mu.Unlock()
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "tok", "token_type": "Bearer", "expires_in": 3600})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func writeCA(t *testing.T, srv *httptest.Server) string {
	path := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestWorkloadIdentityAgainstPrivateAuthority(t *testing.T) {
	entra := newFakeEntra(t)
	tlsConfig, err := azure.NewTLSConfig(writeCA(t, entra.srv))
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("projected-sa-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	cred, err := azure.NewCredential(config.Identity{ClientID: "client-1", TenantID: "tenant-1", FederatedTokenFile: tokenFile, AuthorityHost: entra.srv.URL + "/"}, azure.NewHTTPClient(tlsConfig))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if tok.Token != "tok" {
		t.Errorf("token = %q", tok.Token)
	}
	entra.mu.Lock()
	defer entra.mu.Unlock()
	if entra.assertion != "projected-sa-token" {
		t.Errorf("client_assertion = %q, want the token file's content", entra.assertion)
	}
	// Instance discovery was disabled: only our host was asked, and only these two.
	want := "GET /tenant-1/v2.0/.well-known/openid-configuration,POST /tenant-1/oauth2/v2.0/token"
	if got := strings.Join(entra.paths, ","); got != want {
		t.Errorf("requests = %s, want %s", got, want)
	}
}

func TestCheckCredentialExplains(t *testing.T) {
	entra := newFakeEntra(t)
	tlsConfig, _ := azure.NewTLSConfig(writeCA(t, entra.srv))
	cred, err := azure.NewCredential(config.Identity{ClientID: "c", TenantID: "tenant-1", FederatedTokenFile: filepath.Join(t.TempDir(), "missing"), AuthorityHost: entra.srv.URL}, azure.NewHTTPClient(tlsConfig))
	if err != nil {
		t.Fatal(err)
	}
	err = azure.CheckCredential(context.Background(), cred, "https://vault.azure.net/.default")
	if !errors.Is(err, azure.ErrNoIdentity) || !strings.Contains(err.Error(), "azure.workload.identity/client-id") {
		t.Errorf("err = %v", err)
	}
}

func TestCredentialRefusesHTTPAuthority(t *testing.T) {
	if _, err := azure.NewCredential(config.Identity{FederatedTokenFile: "/x", ClientID: "c", TenantID: "t", AuthorityHost: "http://127.0.0.1/"}, http.DefaultClient); err == nil {
		t.Error("http authority accepted")
	}
}

func TestTLSConfigTrustsCAFile(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	// Without the CA file the test server is not trusted...
	plain, _ := azure.NewTLSConfig("")
	if _, err := azure.NewHTTPClient(plain).Get(srv.URL); err == nil {
		t.Fatal("untrusted server accepted")
	}
	// ...with it, it is.
	withCA, err := azure.NewTLSConfig(writeCA(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := azure.NewHTTPClient(withCA).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := azure.NewTLSConfig(filepath.Join(t.TempDir(), "nope.pem")); err == nil {
		t.Error("missing CA file accepted")
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	_ = os.WriteFile(empty, []byte("not pem"), 0o600)
	if _, err := azure.NewTLSConfig(empty); err == nil {
		t.Error("CA file without certificates accepted")
	}
}

func TestIsLoopback(t *testing.T) {
	for h, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true, "kv.localhost": true, "LOCALHOST.": true,
		"kv-orderflow.vault.azure.net": false, "10.0.0.1": false, "localhost.evil.com": false} {
		if azure.IsLoopback(h) != want {
			t.Errorf("IsLoopback(%q) = %v", h, !want)
		}
	}
}

func TestNewWithEmulatorOverridesNeedsNoIdentity(t *testing.T) {
	c, err := config.Load(func(k string) string {
		return map[string]string{
			"KEYVAULT_URL": "https://localhost:8443/", "KEYVAULT_AUTH": "emulator",
			"COSMOS_ENDPOINT": "http://localhost:8081/", "COSMOS_KEY": "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==",
			"STORAGE_CONNECTION_STRING":    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
			"SERVICEBUS_CONNECTION_STRING": "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	clients, err := azure.New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer clients.Close(context.Background())
	if clients.Credential != nil {
		t.Error("an Entra credential was built though every service has an emulator override")
	}
	if err := clients.CheckIdentity(context.Background()); err != nil {
		t.Error(err)
	}
	auth := clients.Auth()
	if auth["cosmos"] != "key" || auth["blob"] != "connection-string" || auth["servicebus"] != "connection-string" || auth["keyvault"] != "emulator" {
		t.Errorf("auth = %v", auth)
	}
}
