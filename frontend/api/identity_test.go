package api

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/doctor"
	"github.com/contoso/orderflow/platform/identity"
)

func getJSON(t *testing.T, srv http.Handler, path string, v any) int {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("GET %s: Cache-Control %q", path, rec.Header().Get("Cache-Control"))
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, rec.Body)
	}
	return rec.Code
}

func TestIdentityPanelPermissions(t *testing.T) {
	prober := identity.NewProber(func(context.Context, time.Duration) []doctor.Permission {
		return []doctor.Permission{
			{Check: "blob-read:receipts", Scope: "storage/receipts", Role: "Storage Blob Data Reader", Status: doctor.Allowed, Entra: true},
			{Check: "servicebus-send:orders", Scope: "servicebus/orders", Role: "Azure Service Bus Data Sender", Status: doctor.NotProbed, Entra: true},
		}
	}, identity.ProberOptions{})
	srv := NewServer(Deps{Identity: Identity{Service: "frontend", ClientID: "client-f"}, Permissions: prober}, Limits{})
	var v identity.View
	if code := getJSON(t, srv, "/api/identity", &v); code != 200 {
		t.Fatalf("status %d", code)
	}
	if v.ClientID != "client-f" || v.Permissions == nil || len(v.Permissions.Items) != 2 ||
		v.Permissions.Items[1].Status != doctor.NotProbed || v.Permissions.Items[0].Role != "Storage Blob Data Reader" {
		t.Errorf("view %+v permissions %+v", v, v.Permissions)
	}
}

func TestBackendIdentityNotConfigured(t *testing.T) {
	var v backendIdentityView
	if code := getJSON(t, NewServer(Deps{}, Limits{}), "/api/identity/backend", &v); code != 200 {
		t.Fatalf("status %d", code)
	}
	if v.Configured || v.Reachable || v.Identity != nil || !strings.Contains(v.Error, "BACKEND_HEALTH_URL") {
		t.Errorf("%+v", v)
	}
}

// The frontend fetches the backend's view from its health port and serves it as is.
func TestBackendIdentityFetched(t *testing.T) {
	src := &identity.Source{Info: identity.Info{Service: "backend", ClientID: "client-b", TenantID: "tenant"}}
	mux := http.NewServeMux()
	mux.Handle("GET /identity", src)
	backend := httptest.NewServer(mux)
	defer backend.Close()
	srv := NewServer(Deps{BackendHealthURL: backend.URL + "/"}, Limits{})
	var v backendIdentityView
	if code := getJSON(t, srv, "/api/identity/backend", &v); code != 200 {
		t.Fatalf("status %d", code)
	}
	if !v.Configured || !v.Reachable || v.Error != "" || v.Identity == nil || v.Identity.Service != "backend" || v.Identity.ClientID != "client-b" {
		t.Errorf("%+v", v)
	}
}

// A backend that is down or answers something else is a state the panel shows:
// 200 with reachable false and the reason, never an error page.
func TestBackendIdentityUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	for url, want := range map[string]string{closed: "refused", notFound.URL: "status 404"} {
		var v backendIdentityView
		if code := getJSON(t, NewServer(Deps{BackendHealthURL: url}, Limits{}), "/api/identity/backend", &v); code != 200 {
			t.Errorf("%s: status %d", url, code)
		}
		if !v.Configured || v.Reachable || v.Identity != nil || !strings.Contains(v.Error, want) || v.URL != url {
			t.Errorf("%s: %+v, want an error with %q", url, v, want)
		}
	}
}
