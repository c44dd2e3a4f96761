package entraemu

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/internal/benchkit"
)

// BenchmarkTokenIssuance: the client-assertion exchange (what every workload identity
// credential does once an hour per scope), next to a stub that answers a fixed token.
func BenchmarkTokenIssuance(b *testing.B) {
	e := startEntra(b, nil)
	reply := []byte(`{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.c2ln"}`)
	// The stub reads the form and answers at once.
	stubHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(reply)
	})
	stubEnv := startStub(b, stubHandler)
	form := exchangeForm(frontendApp, e.saToken(b, "orderflow", "frontend", time.Hour), vaultScope+" openid offline_access profile").Encode()
	exchange := func(env *testEnv) func() error {
		return func() error {
			res, err := env.client.Post(env.url+"/"+testTenant+"/oauth2/v2.0/token", "application/x-www-form-urlencoded", strings.NewReader(form))
			if err != nil {
				return err
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				return fmt.Errorf("%d %s", res.StatusCode, body)
			}
			return nil
		}
	}
	for _, g := range []int{1, 16} {
		var ceiling float64
		b.Run(fmt.Sprintf("stub/goroutines=%d", g), func(b *testing.B) { ceiling = benchkit.Measure(b, g, exchange(stubEnv)) })
		b.Run(fmt.Sprintf("entra/goroutines=%d", g), func(b *testing.B) {
			ops := benchkit.Measure(b, g, exchange(e))
			if ceiling > 0 {
				b.ReportMetric(ops/ceiling, "fraction-of-stub")
			}
		})
	}
}
