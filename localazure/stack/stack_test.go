package stack_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/contoso/orderflow/localazure/azurite"
	"github.com/contoso/orderflow/localazure/stack"
)

// st is one stack shared by the tests of this package, as other modules' TestMain do.
var (
	st        *stack.Stack
	startTook time.Duration
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flagParse()
	blob := true
	if dir, err := azurite.FindDir(""); err != nil || !azurite.Installed(dir) {
		if !testing.Short() {
			fmt.Fprintln(os.Stderr, "Azurite is not installed: run scripts/install-test-deps.sh (full test runs need it; -short skips the Blob tests)")
			return 1
		}
		blob = false
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	var err error
	st, err = stack.Start(ctx, stack.Options{Blob: blob, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start the local stack:", err)
		return 1
	}
	startTook = time.Since(began)
	defer st.Close()
	return m.Run()
}

// httpClient trusts only the stack's CA: Go reads SSL_CERT_FILE once per process, so
// tests hand the CA to the clients instead.
func httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: st.CACertPool()}}}
}

// credentialFromEnv builds the workload's credential exactly as an app in a pod does:
// from nothing but its environment.
func credentialFromEnv(t *testing.T, workload string) azcore.TokenCredential {
	t.Helper()
	env := st.Env(workload)
	if env == nil {
		t.Fatalf("no env for workload %s", workload)
	}
	for k, v := range env {
		if k != "SSL_CERT_FILE" {
			t.Setenv(k, v)
		}
	}
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: azcore.ClientOptions{Transport: httpClient()},
		// MSAL would ask login.microsoftonline.com about any non-public authority host.
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStartedQuickly(t *testing.T) {
	t.Logf("stack answered after %s", startTook.Round(time.Millisecond))
	for _, s := range st.Status(context.Background()) {
		if s.Err != nil {
			t.Errorf("%s (%s): %v", s.Name, s.URL, s.Err)
		}
	}
}

func TestWorkloadIdentityTokens(t *testing.T) {
	ctx := context.Background()
	cfg := st.Config()
	for _, workload := range []string{"frontend", "backend"} {
		w, _ := cfg.Workload(workload)
		cred := credentialFromEnv(t, workload)
		for _, scope := range []string{
			"https://vault.azure.net/.default",
			"https://storage.azure.com/.default",
			"https://servicebus.azure.net//.default",
			"https://127.0.0.1/.default", // Cosmos: the account host, port dropped
		} {
			tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
			if err != nil {
				t.Fatalf("%s: token for %s: %v", workload, scope, err)
			}
			c := claims(t, tok.Token)
			wantAud := strings.TrimRight(strings.TrimSuffix(scope, ".default"), "/")
			if aud, _ := c["aud"].(string); strings.TrimRight(aud, "/") != wantAud {
				t.Errorf("%s: aud %q, want %q", workload, aud, wantAud)
			}
			if c["oid"] != w.ObjectID || c["appid"] != w.ClientID || c["tid"] != cfg.LocalAzure.TenantID {
				t.Errorf("%s: claims %v do not name the workload's identity", workload, c)
			}
			if iss, _ := c["iss"].(string); !strings.HasPrefix(iss, "https://sts.windows.net/") {
				t.Errorf("%s: iss %q", workload, iss)
			}
		}
	}
}

func TestEnvFileMatchesWebhook(t *testing.T) {
	dir := t.TempDir()
	paths, err := st.WriteEnvFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.Config()
	for _, name := range []string{"frontend", "backend"} {
		w, _ := cfg.Workload(name)
		data, err := os.ReadFile(paths[name])
		if err != nil {
			t.Fatal(err)
		}
		env, err := stack.ParseEnv(string(data))
		if err != nil {
			t.Fatalf("%s: %v\n%s", paths[name], err, data)
		}
		if fmt.Sprint(env) != fmt.Sprint(st.Env(name)) {
			t.Errorf("%s: env file\n%v\ndiffers from Env()\n%v", name, env, st.Env(name))
		}
		// The webhook injects exactly these four AZURE_ variables; anything else
		// (a client secret, a regional authority) would take another code path.
		var azure []string
		for k := range env {
			if strings.HasPrefix(k, "AZURE_") {
				azure = append(azure, k)
			}
		}
		if len(azure) != 4 || env["AZURE_CLIENT_ID"] != w.ClientID || env["AZURE_TENANT_ID"] != cfg.LocalAzure.TenantID {
			t.Errorf("%s: AZURE_ variables %v", name, azure)
		}
		if h := env["AZURE_AUTHORITY_HOST"]; !strings.HasPrefix(h, "https://") || !strings.HasSuffix(h, "/") {
			t.Errorf("%s: AZURE_AUTHORITY_HOST %q: the webhook gives an https URL with a trailing slash", name, h)
		}
		// The projected token: the webhook's file name, audience and subject.
		tf := env["AZURE_FEDERATED_TOKEN_FILE"]
		if !strings.HasSuffix(tf, "/azure-identity-token") {
			t.Errorf("%s: token file %q is not named as the webhook names it", name, tf)
		}
		raw, err := os.ReadFile(tf)
		if err != nil {
			t.Fatal(err)
		}
		c := claims(t, strings.TrimSpace(string(raw)))
		if c["aud"] != "api://AzureADTokenExchange" && fmt.Sprint(c["aud"]) != "[api://AzureADTokenExchange]" {
			t.Errorf("%s: token aud %v", name, c["aud"])
		}
		if c["sub"] != "system:serviceaccount:orderflow:"+w.ServiceAccount || c["iss"] != st.Endpoints().IssuerURL {
			t.Errorf("%s: token sub %v iss %v", name, c["sub"], c["iss"])
		}
		exp, _ := c["exp"].(float64)
		iat, _ := c["iat"].(float64)
		if d := time.Duration(exp-iat) * time.Second; d != time.Hour {
			t.Errorf("%s: token lifetime %s, want the webhook's default 1h", name, d)
		}
		for _, k := range []string{"KEYVAULT_URL", "COSMOS_ENDPOINT", "SERVICEBUS_NAMESPACE", "SSL_CERT_FILE", "COSMOS_DATABASE", "COSMOS_CONTAINER", "ORDERS_QUEUE", "EVENTS_TOPIC", "EVENTS_SUBSCRIPTION", "RECEIPT_KEY_SECRET", "ATTACHMENTS_CONTAINER", "RECEIPTS_CONTAINER"} {
			if env[k] == "" {
				t.Errorf("%s: %s missing", name, k)
			}
		}
		if pem, err := os.ReadFile(env["SSL_CERT_FILE"]); err != nil || !strings.Contains(string(pem), "BEGIN CERTIFICATE") {
			t.Errorf("%s: SSL_CERT_FILE %s: %v", name, env["SSL_CERT_FILE"], err)
		}
	}
	if st.Env("nobody") != nil {
		t.Error("Env of an unknown workload is not nil")
	}
}

func readAll(t *testing.T, r io.ReadCloser) []byte {
	t.Helper()
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
