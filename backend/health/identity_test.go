package health

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/doctor"
	"github.com/contoso/orderflow/platform/health"
	"github.com/contoso/orderflow/platform/identity"
)

// GET /identity answers platform/identity's View: the backend's client ID, its
// checks and its probed permissions, in the frontend's /api/identity shape.
func TestIdentity(t *testing.T) {
	checker := health.New([]health.Check{{Name: "servicebus", Probe: func(context.Context) error { return nil }}}, health.Options{})
	src := &identity.Source{
		Info:    identity.Info{Service: "backend", ClientID: "2a42ce7b-4bad-44d2-9a3d-0cdec0ae448a", TenantID: "tenant"},
		Checker: checker,
		Prober: identity.NewProber(func(context.Context, time.Duration) []doctor.Permission {
			return []doctor.Permission{{Check: "servicebus-peek:orders", Scope: "servicebus/orders", Role: "Azure Service Bus Data Receiver", Status: doctor.Denied}}
		}, identity.ProberOptions{}),
	}
	srv := httptest.NewServer(Handler(checker, nil, src))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/identity")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v identity.View
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || v.Service != "backend" || v.ClientID != "2a42ce7b-4bad-44d2-9a3d-0cdec0ae448a" ||
		len(v.Dependencies) != 1 || v.Dependencies[0].Name != "servicebus" || v.TokenError == "" {
		t.Errorf("%d %+v", resp.StatusCode, v)
	}
	if v.Permissions == nil || len(v.Permissions.Items) != 1 || v.Permissions.Items[0].Status != doctor.Denied {
		t.Errorf("permissions %+v", v.Permissions)
	}
	// Only GET; and without a source there is no identity endpoint at all.
	post, err := http.Post(srv.URL+"/identity", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode == http.StatusOK {
		t.Errorf("POST /identity answered 200; only GET is served")
	}
	bare := httptest.NewServer(Handler(checker, nil, nil))
	defer bare.Close()
	r, err := http.Get(bare.URL + "/identity")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusNotFound {
		t.Errorf("GET /identity without a source: %d, want 404", r.StatusCode)
	}
}
