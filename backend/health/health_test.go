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
)

func TestReadyzCachesAndReports(t *testing.T) {
	var calls atomic.Int32
	fail := atomic.Bool{}
	now := time.Unix(0, 0)
	c := &Checker{
		Checks: map[string]Check{
			"cosmos": func(context.Context) error { calls.Add(1); return nil },
			"keyvault": func(context.Context) error {
				calls.Add(1)
				if fail.Load() {
					return errors.New("key vault: access denied")
				}
				return nil
			},
		},
		TTL: time.Second,
		Now: func() time.Time { return now },
	}
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	get := func(path string) (int, map[string]any) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, m := get("/readyz"); code != 200 || m["status"] != "ready" {
		t.Errorf("/readyz = %d %v", code, m)
	}
	fail.Store(true)
	// Cached: still ready, no new calls.
	if code, _ := get("/readyz"); code != 200 || calls.Load() != 2 {
		t.Errorf("cached /readyz = %d after %d calls", code, calls.Load())
	}
	now = now.Add(2 * time.Second)
	code, m := get("/readyz")
	if code != 503 || m["status"] != "not ready" {
		t.Fatalf("/readyz = %d %v", code, m)
	}
	checks := m["checks"].([]any)
	kv := checks[1].(map[string]any)
	if kv["name"] != "keyvault" || kv["result"] != "key vault: access denied" {
		t.Errorf("checks = %v", checks)
	}
}
