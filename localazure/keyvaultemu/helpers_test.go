package keyvaultemu

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/contoso/orderflow/localazure/authz"
	"github.com/contoso/orderflow/localazure/authz/authztest"
	"github.com/contoso/orderflow/localazure/tlsca"
)

// Principals of the authztest-based tests, by the roles they hold.
const (
	readerOID   = "10000000-0000-4000-8000-000000000001" // Secrets User on the vault
	officerOID  = "10000000-0000-4000-8000-000000000002" // Secrets Officer on the vault
	adminOID    = "10000000-0000-4000-8000-000000000003" // Administrator on the vault
	scopedOID   = "10000000-0000-4000-8000-000000000004" // Secrets User on one secret
	metadataOID = "10000000-0000-4000-8000-000000000005" // Key Vault Reader on the vault
	nobodyOID   = "10000000-0000-4000-8000-000000000006" // no assignment
)

func testPolicy() *authz.Policy {
	return authz.NewPolicy([]authz.Assignment{
		{PrincipalID: readerOID, Role: authz.KeyVaultSecretsUser, Scope: "keyvault"},
		{PrincipalID: officerOID, Role: authz.KeyVaultSecretsOfficer, Scope: "keyvault"},
		{PrincipalID: adminOID, Role: authz.KeyVaultAdministrator, Scope: "/keyvault/"},
		{PrincipalID: scopedOID, Role: authz.KeyVaultSecretsUser, Scope: "keyvault/secrets/receipt-signing-key"},
		{PrincipalID: metadataOID, Role: keyVaultReader, Scope: "keyvault"},
	})
}

var testCA = func() *tlsca.CA {
	ca, err := tlsca.LoadOrCreate("")
	if err != nil {
		panic(err)
	}
	return ca
}()

// serveTLS serves h over TLS from the test CA and returns its URL.
func serveTLS(t testing.TB, h func() http.Handler) string {
	t.Helper()
	cfg, err := testCA.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	ts.TLS = cfg
	ts.StartTLS()
	t.Cleanup(ts.Close)
	handler = h()
	return ts.URL
}

func newHTTPClient(t testing.TB) *http.Client {
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: testCA.Pool()}, MaxIdleConnsPerHost: 64}}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// kvEnv is a running vault checked against authztest tokens.
type kvEnv struct {
	srv    *Server
	url    string
	issuer *authztest.Issuer
	client *http.Client
}

func startVault(t testing.TB, seed []Secret, edit func(*Options)) *kvEnv {
	t.Helper()
	e := &kvEnv{issuer: authztest.NewIssuer(), client: newHTTPClient(t)}
	return e.restart(t, seed, edit)
}

// restart starts a server on a fresh listener (the URL is part of the options).
func (e *kvEnv) restart(t testing.TB, seed []Secret, edit func(*Options)) *kvEnv {
	var srv *Server
	e.url = serveTLS(t, func() http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { srv.Handler().ServeHTTP(w, r) })
	})
	opts := Options{VaultURL: e.url + "/", TenantID: authztest.TenantID, Verifier: e.issuer, Policy: testPolicy(), Seed: seed}
	if edit != nil {
		edit(&opts)
	}
	var err error
	srv, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	return e
}

// client is an azsecrets client acting as the principal oid.
func (e *kvEnv) secrets(t testing.TB, oid string) *azsecrets.Client {
	return e.secretsWith(t, e.issuer.Credential(oid))
}

func (e *kvEnv) secretsWith(t testing.TB, cred azcore.TokenCredential) *azsecrets.Client {
	t.Helper()
	c, err := azsecrets.NewClient(e.url+"/", cred, &azsecrets.ClientOptions{
		ClientOptions:                        policy.ClientOptions{Transport: e.client},
		DisableChallengeResourceVerification: true, // the vault is on 127.0.0.1, not *.vault.azure.net
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rawReply is a response read in full.
type rawReply struct {
	status int
	header http.Header
	body   []byte
}

func (r rawReply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("%d %s: %v", r.status, r.body, err)
	}
	return m
}

func (r rawReply) errorCode(t testing.TB) (code, inner, msg string) {
	t.Helper()
	var b errorBody
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("%d %s: %v", r.status, r.body, err)
	}
	if b.Error.InnerError != nil {
		inner = b.Error.InnerError.Code
	}
	return b.Error.Code, inner, b.Error.Message
}

// do sends a raw request; token "" sends none.
func (e *kvEnv) do(t testing.TB, method, pathAndQuery, token, body string) rawReply {
	t.Helper()
	target := pathAndQuery
	if !strings.HasPrefix(target, "https://") {
		target = e.url + pathAndQuery
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return rawReply{status: res.StatusCode, header: res.Header, body: b}
}

func (e *kvEnv) token(oid string) string {
	return e.issuer.Token(oid, "https://vault.azure.net", time.Hour)
}

func ptr[T any](v T) *T { return &v }
