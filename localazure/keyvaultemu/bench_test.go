package keyvaultemu

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/contoso/orderflow/localazure/internal/benchkit"
)

// stubVault answers like Key Vault and does nothing: the challenge without a token,
// a fixed bundle with one. It is the ceiling the client and the network allow.
func stubVault() http.Handler {
	body := []byte(`{"value":"k3y","id":"https://stub/secrets/receipt-signing-key/0123456789abcdef0123456789abcdef","attributes":{"enabled":true,"created":1700000000,"updated":1700000000,"recoveryLevel":"Recoverable+Purgeable","recoverableDays":90}}`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/t", resource="https://vault.azure.net"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write(body)
	})
}

// BenchmarkGetSecret: azsecrets GetSecret against the stand-in, each figure next to
// the same client against a do-nothing stub in the same run.
func BenchmarkGetSecret(b *testing.B) {
	e := startVault(b, []Secret{{Name: "receipt-signing-key", Value: "k3y"}}, nil)
	real := e.secrets(b, readerOID)
	stub := &kvEnv{client: e.client, issuer: e.issuer}
	stub.url = serveTLS(b, stubVault)
	stubClient := stub.secrets(b, readerOID)
	get := func(c *azsecrets.Client) func() error {
		return func() error {
			s, err := c.GetSecret(ctx, "receipt-signing-key", "", nil)
			if err == nil && *s.Value != "k3y" {
				err = fmt.Errorf("value %q", *s.Value)
			}
			return err
		}
	}
	for _, g := range []int{1, 16} {
		var ceiling float64
		b.Run(fmt.Sprintf("stub/goroutines=%d", g), func(b *testing.B) { ceiling = benchkit.Measure(b, g, get(stubClient)) })
		b.Run(fmt.Sprintf("keyvault/goroutines=%d", g), func(b *testing.B) {
			ops := benchkit.Measure(b, g, get(real))
			if ceiling > 0 {
				b.ReportMetric(ops/ceiling, "fraction-of-stub")
			}
		})
	}
}
