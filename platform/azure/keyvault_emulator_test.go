package azure

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/contoso/orderflow/platform/config"
)

// TestKeyVaultEmulatorMode checks the docker-compose path: a Key Vault emulator with a
// self-signed certificate that accepts any token, reached only with KEYVAULT_AUTH=emulator.
func TestKeyVaultEmulatorMode(t *testing.T) {
	var sawBearer atomic.Bool
	var apiVersions sync.Map // api-version query values seen, by mode
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apiVersions.Store(r.URL.Query().Get("api-version"), true)
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		sawBearer.Store(strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"value":"s3cret","id":"%s/secrets/receipt-signing-key/v1","attributes":{"enabled":true}}`, "https://"+r.Host)
	}))
	defer srv.Close()
	httpc := NewHTTPClient(mustTLS(t))
	// Without the opt-in the self-signed certificate is refused.
	plain, err := newSecrets(config.KeyVault{URL: srv.URL}, staticToken{}, httpc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.GetSecret(context.Background(), "receipt-signing-key", "", nil); err == nil {
		t.Fatal("an untrusted certificate was accepted without KEYVAULT_AUTH=emulator")
	}
	emu, err := newSecrets(config.KeyVault{URL: srv.URL, Emulator: true}, nil, httpc, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := emu.GetSecret(context.Background(), "receipt-signing-key", "", nil)
	if err != nil {
		t.Fatalf("emulator mode: %v", err)
	}
	if *resp.Value != "s3cret" || !sawBearer.Load() {
		t.Fatalf("value %q, bearer sent %v", *resp.Value, sawBearer.Load())
	}
	// On the wire, the emulator gets the api-version the pinned Lowkey Vault serves,
	// not the SDK's default (which it rejects).
	if _, ok := apiVersions.Load(EmulatorKeyVaultAPIVersion); !ok {
		var seen []any
		apiVersions.Range(func(k, _ any) bool { seen = append(seen, k); return true })
		t.Fatalf("emulator mode sent api-version %v, want %s", seen, EmulatorKeyVaultAPIVersion)
	}
}

func mustTLS(t *testing.T) *tls.Config {
	t.Helper()
	c, err := NewTLSConfig("")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
