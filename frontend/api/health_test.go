package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/contoso/orderflow/frontend/web"
	"github.com/contoso/orderflow/platform/health"
	"github.com/contoso/orderflow/platform/identity"
)

// TestReadyzCachesAndFails checks the frontend's /readyz: results cached for the
// TTL, a shared dependency failing keeps 200 as "degraded", its own identity
// failing gives 503, and draining gives 503 while /healthz stays 200.
func TestReadyzCachesAndFails(t *testing.T) {
	var calls atomic.Int32
	var cosmosFails, identityFails atomic.Bool
	checks := []Check{
		{Name: "cosmos", Scope: health.Shared, Probe: func(context.Context) error {
			calls.Add(1)
			if cosmosFails.Load() {
				return errors.New("dial tcp: connection refused\nlots of detail")
			}
			return nil
		}},
		{Name: "entra-id", Scope: health.Own, Probe: func(context.Context) error {
			if identityFails.Load() {
				return errors.New("no identity")
			}
			return nil
		}},
	}
	log := slog.New(slog.DiscardHandler)
	srv := NewServer(Deps{Checker: NewChecker(checks, 200*time.Millisecond, time.Second, log), Logger: log}, Limits{})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	get := func() (int, health.Report, string) {
		resp, err := http.Get(ts.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var r health.Report
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("readyz body %q: %v", b, err)
		}
		return resp.StatusCode, r, string(b)
	}
	if code, r, _ := get(); code != 200 || r.Status != health.ReportOK {
		t.Fatalf("ready: %d %+v", code, r)
	}
	get()
	if calls.Load() != 1 {
		t.Errorf("%d probes for two requests within the TTL, want 1", calls.Load())
	}
	cosmosFails.Store(true)
	time.Sleep(250 * time.Millisecond)
	code, r, body := get()
	if code != http.StatusOK || !r.Ready || r.Status != health.ReportDegraded || r.Checks[0].Status != health.StatusError {
		t.Fatalf("shared dependency failing: %d %s; want 200 degraded", code, body)
	}
	if strings.Contains(body, "lots of detail") {
		t.Errorf("readyz shows more than the first line of the error: %s", body)
	}
	identityFails.Store(true)
	time.Sleep(250 * time.Millisecond)
	if code, r, body := get(); code != http.StatusServiceUnavailable || r.Ready || r.Status != health.ReportUnready {
		t.Errorf("own identity failing: %d %s; want 503 unready", code, body)
	}

	cosmosFails.Store(false)
	identityFails.Store(false)
	time.Sleep(250 * time.Millisecond)
	srv.BeginDrain()
	if code, r, _ := get(); code != http.StatusServiceUnavailable || r.Status != health.ReportDraining {
		t.Errorf("draining: %d %+v, want 503 draining", code, r)
	}
	resp, _ := http.Get(ts.URL + "/healthz")
	if resp.StatusCode != 200 {
		t.Errorf("healthz while draining: %d; liveness must not depend on readiness", resp.StatusCode)
	}
	resp.Body.Close()
}

func fakeJWT(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." + enc([]byte(claims)) + "." + enc([]byte("not-a-real-signature"))
}

func TestIdentityPanel(t *testing.T) {
	dir := t.TempDir()
	token := fakeJWT(`{"iss":"https://oidc.example/cluster","sub":"system:serviceaccount:orderflow:frontend","aud":["api://AzureADTokenExchange"],"exp":1893456000}`)
	path := filepath.Join(dir, "token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	checks := []Check{
		{Name: "keyvault", Probe: func(context.Context) error { return nil }},
		{Name: "servicebus", Probe: func(context.Context) error { return errors.New("unreachable") }},
	}
	srv := NewServer(Deps{
		Identity: Identity{Service: "frontend", ClientID: "client-123", TenantID: "tenant-456", AuthorityHost: "https://login.example/", TokenFile: path,
			TraceView: "http://127.0.0.1:8402/"},
		Checker: NewChecker(checks, time.Second, time.Second, log),
		Logger:  log,
	}, Limits{})
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/identity", nil))
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	if strings.Contains(body, token) || strings.Contains(body, "not-a-real-signature") || strings.Contains(body, strings.Split(token, ".")[1]) {
		t.Fatal("the identity panel exposes the token")
	}
	var v identity.View
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.ClientID != "client-123" || v.TenantID != "tenant-456" || v.Token == nil ||
		v.Token.Issuer != "https://oidc.example/cluster" || v.Token.Subject != "system:serviceaccount:orderflow:frontend" ||
		len(v.Token.Audience) != 1 || v.Token.ExpiresAt.Year() != 2030 || v.TraceView != "http://127.0.0.1:8402/" {
		t.Errorf("identity %+v token %+v", v, v.Token)
	}
	if len(v.Dependencies) != 2 || !v.Dependencies[0].Reachable || v.Dependencies[1].Reachable || v.Dependencies[1].Error == "" {
		t.Errorf("dependencies %+v", v.Dependencies)
	}
}

func TestIdentityPanelWithoutToken(t *testing.T) {
	srv := NewServer(Deps{Identity: Identity{TokenFile: filepath.Join(t.TempDir(), "missing")}}, Limits{})
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/identity", nil))
	var v identity.View
	_ = json.Unmarshal(rec.Body.Bytes(), &v)
	if rec.Code != 200 || v.Token != nil || v.TokenError == "" || v.TraceView != "" {
		t.Errorf("status %d view %+v", rec.Code, v)
	}
}

func TestPageIsServed(t *testing.T) {
	srv := NewServer(Deps{Assets: web.Files()}, Limits{})
	for path, want := range map[string]string{"/": "Place an order", "/app.js": "EventSource", "/app.css": "@media"} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("GET %s: %d, body lacks %q", path, rec.Code, want)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
	}
}
