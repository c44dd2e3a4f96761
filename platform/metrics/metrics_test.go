package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// touch gives every vector one child: a vector without children is not gathered,
// and so would escape the lint.
func touch(m *Metrics) {
	m.HTTPRequests.WithLabelValues("GET", "/api/orders/:id", "200").Inc()
	m.HTTPDuration.WithLabelValues("GET", "/api/orders/:id").Observe(.01)
	m.ObserveCall(DependencyCosmos, "read_docs", OutcomeOK, "200", .002)
	m.MessageProcessing.WithLabelValues("complete").Observe(.1)
	m.DeadLetters.WithLabelValues("InvalidMessage").Inc()
	m.LockRenewals.WithLabelValues(OutcomeOK).Inc()
}

// TestMetricsLint runs promlint over everything either service registers, the Go
// and process collectors included: names, units, _total suffixes and help texts.
func TestMetricsLint(t *testing.T) {
	for _, role := range []Role{Frontend, Backend} {
		reg := NewRegistry()
		touch(New(reg, role))
		problems, err := testutil.GatherAndLint(reg)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("role %d: %s: %s", role, p.Metric, p.Text)
		}
	}
}

// TestRolesRegisterTheirOwn checks that each service exports the metrics it moves,
// and not the other service's, all under the orderflow_ prefix.
func TestRolesRegisterTheirOwn(t *testing.T) {
	cases := []struct {
		role      Role
		has, lack []string
	}{
		{Frontend, []string{"orderflow_http_requests_total", "orderflow_orders_placed_total", "orderflow_sse_clients", "orderflow_reconciler_resends_total", "orderflow_dependency_calls_total"},
			[]string{"orderflow_orders_completed_total", "orderflow_messages_delivery_attempts"}},
		{Backend, []string{"orderflow_orders_completed_total", "orderflow_orders_failed_total", "orderflow_orders_latency_seconds", "orderflow_messages_delivery_attempts", "orderflow_messages_lock_losses_total", "orderflow_dependency_calls_total"},
			[]string{"orderflow_http_requests_total", "orderflow_orders_placed_total"}},
	}
	for _, c := range cases {
		reg := NewRegistry()
		touch(New(reg, c.role))
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, mf := range mfs {
			got[mf.GetName()] = true
			if !strings.HasPrefix(mf.GetName(), Namespace+"_") && !strings.HasPrefix(mf.GetName(), "go_") && !strings.HasPrefix(mf.GetName(), "process_") {
				t.Errorf("role %d: %s has neither the orderflow_ prefix nor is a runtime metric", c.role, mf.GetName())
			}
		}
		for _, n := range c.has {
			if !got[n] {
				t.Errorf("role %d: %s not registered", c.role, n)
			}
		}
		for _, n := range c.lack {
			if got[n] {
				t.Errorf("role %d: %s registered but never moved by this service", c.role, n)
			}
		}
	}
}

func TestHandlerServesRegistry(t *testing.T) {
	m := New(NewRegistry(), Backend)
	m.OrdersCompleted.Add(3)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path, nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusOK || !strings.Contains(string(body), "orderflow_orders_completed_total 3") {
		t.Fatalf("GET %s = %d:\n%s", Path, rec.Code, body)
	}
}

func TestDiscardObservesWithoutExporting(t *testing.T) {
	m := Or(nil)
	m.OrdersPlaced.Inc()
	if got := testutil.ToFloat64(m.OrdersPlaced); got != 1 {
		t.Fatalf("placed = %v", got)
	}
	if n, err := testutil.GatherAndCount(m.gatherer); err != nil || n != 0 {
		t.Fatalf("discard registry gathered %d metrics, err %v", n, err)
	}
}
