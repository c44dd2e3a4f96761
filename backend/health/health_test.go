package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/health"
)

// TestReadyz checks the backend's probes with its own checks' scopes: a shared
// dependency (Key Vault) failing reports degraded with 200, the identity failing 503.
func TestReadyz(t *testing.T) {
	var kvFails, idFails atomic.Bool
	fails := func(b *atomic.Bool, msg string) func(context.Context) error {
		return func(context.Context) error {
			if b.Load() {
				return errors.New(msg)
			}
			return nil
		}
	}
	checker := health.New([]health.Check{
		{Name: "entra-id", Scope: health.Own, Probe: fails(&idFails, "no identity")},
		{Name: "keyvault", Scope: health.Shared, Probe: fails(&kvFails, "key vault: access denied")},
	}, health.Options{TTL: time.Nanosecond})
	srv := httptest.NewServer(Handler(checker, nil, nil))
	defer srv.Close()
	get := func(path string) (int, health.Report) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r health.Report
		_ = json.NewDecoder(resp.Body).Decode(&r)
		return resp.StatusCode, r
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, r := get("/readyz"); code != 200 || r.Status != health.ReportOK {
		t.Errorf("/readyz = %d %+v", code, r)
	}
	kvFails.Store(true)
	time.Sleep(time.Millisecond)
	code, r := get("/readyz")
	if code != 200 || r.Status != health.ReportDegraded || r.Checks[1].Name != "keyvault" || r.Checks[1].Error != "key vault: access denied" {
		t.Errorf("Key Vault failing: /readyz = %d %+v, want 200 degraded", code, r)
	}
	idFails.Store(true)
	time.Sleep(time.Millisecond)
	if code, r := get("/readyz"); code != 503 || r.Status != health.ReportUnready {
		t.Errorf("identity failing: /readyz = %d %+v, want 503 unready", code, r)
	}
}
