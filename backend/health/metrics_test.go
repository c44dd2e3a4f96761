package health

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/contoso/orderflow/platform/health"
	"github.com/contoso/orderflow/platform/metrics"
)

// TestMetricsEndpoint scrapes the health server as the PodMonitor does.
func TestMetricsEndpoint(t *testing.T) {
	m := metrics.New(metrics.NewRegistry(), metrics.Backend)
	m.OrdersCompleted.Inc()
	srv := httptest.NewServer(Handler(health.New(nil, health.Options{}), m.Handler(), nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL + metrics.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"orderflow_orders_completed_total 1", "# TYPE orderflow_orders_latency_seconds histogram", "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Without Metrics there is no such endpoint.
	bare := httptest.NewServer(Handler(health.New(nil, health.Options{}), nil, nil))
	defer bare.Close()
	resp, err = http.Get(bare.URL + metrics.Path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics without Metrics = %d, want 404", resp.StatusCode)
	}
}
