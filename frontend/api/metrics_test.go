package api

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/contoso/orderflow/platform/metrics"
	"github.com/contoso/orderflow/platform/metrics/metricstest"
	"github.com/contoso/orderflow/platform/orders"
)

// TestRequestMetricsFollowAnOrder places an order and reads it back: requests are
// counted per route template with their status, the order as placed, and nothing
// carries the raw path with its order ID.
func TestRequestMetricsFollowAnOrder(t *testing.T) {
	f := newFixture(t, Limits{})
	resp := f.postJSON("/api/orders", `{"customerId":"c-1","items":[{"productId":"mug-ceramic","quantity":1}]}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST = %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	if r := f.do(http.MethodGet, loc, "", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", loc, r.StatusCode)
	}
	if r := f.do(http.MethodGet, "/api/orders/no-such-order", "", nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("GET missing = %d", r.StatusCode)
	}
	f.do(http.MethodGet, "/no/such/route/"+loc, "", nil)
	f.do("BREW", "/api/products", "", nil)

	m := f.metrics
	for _, c := range []struct {
		method, route, code string
		want                float64
	}{
		{"POST", "/api/orders", "202", 1},
		{"GET", "/api/orders/:id", "200", 1},
		{"GET", "/api/orders/:id", "404", 1},
		{"GET", "unmatched", "404", 1},
	} {
		if got := testutil.ToFloat64(m.HTTPRequests.WithLabelValues(c.method, c.route, c.code)); got != c.want {
			t.Errorf("requests{%s %s %s} = %v, want %v", c.method, c.route, c.code, got, c.want)
		}
	}
	if n := metricstest.Samples(t, m.HTTPDuration.WithLabelValues("GET", "/api/orders/:id")); n != 2 {
		t.Errorf("duration{GET /api/orders/:id} has %d samples, want 2", n)
	}
	if got := testutil.ToFloat64(m.OrdersPlaced); got != 1 {
		t.Errorf("orders placed = %v, want 1", got)
	}
	// A rejected order is not placed.
	f.postJSON("/api/orders", `{"customerId":"c-1","items":[{"productId":"mug-ceramic","quantity":0}]}`)
	if got := testutil.ToFloat64(m.OrdersPlaced); got != 1 {
		t.Errorf("orders placed after a rejected one = %v, want 1", got)
	}

	body := scrape(t, f)
	id := strings.TrimPrefix(loc, "/api/orders/")
	if strings.Contains(body, id) || strings.Contains(body, "no-such-order") || strings.Contains(body, "BREW") {
		t.Errorf("a raw path or method reached a label:\n%s", body)
	}
	if !strings.Contains(body, `orderflow_http_requests_total{code="405",method="OTHER",route="/api/products"} 1`) {
		t.Errorf("a non-standard method is not folded into OTHER:\n%s", body)
	}
}

// scrape GETs /metrics from the frontend server as the PodMonitor does.
func scrape(t *testing.T, f *fixture) string {
	t.Helper()
	resp := f.do(http.MethodGet, "/metrics", "", nil)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return string(b)
}

// TestMetricsEndpointIsQuiet checks /metrics is served and is itself neither counted
// nor logged: scrapes are not traffic.
func TestMetricsEndpointIsQuiet(t *testing.T) {
	f := newFixture(t, Limits{})
	f.do(http.MethodGet, "/healthz", "", nil)
	for range 3 {
		scrape(t, f)
	}
	body := scrape(t, f)
	for _, want := range []string{`orderflow_http_requests_total{code="200",method="GET",route="/healthz"} 1`, "# TYPE orderflow_sse_clients gauge", "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, `route="/metrics"`) {
		t.Error("scrapes are counted as requests")
	}
	if strings.Contains(f.log.String(), "path=/metrics") {
		t.Error("scrapes are logged")
	}
}

// TestSSEClientsGauge opens a status stream: the gauge is 1 while it is open and
// back to 0 once the terminal status ended it.
func TestSSEClientsGauge(t *testing.T) {
	f := newFixture(t, Limits{Poll: time.Hour, Heartbeat: time.Hour})
	o := f.seedOrder("c-1", time.Now())
	ch, _ := openSSE(t, f, "/api/orders/"+o.ID+"/events")
	if _, ok := nextStatus(t, ch, 5*time.Second); !ok {
		t.Fatal("no first status")
	}
	if got := testutil.ToFloat64(f.metrics.SSEClients); got != 1 {
		t.Errorf("sse clients while streaming = %v, want 1", got)
	}
	waitSubscribers(t, f.hub, o.ID, 1)
	completed, _ := orders.NewOrderCompletedEvent(o, &orders.Receipt{OrderID: o.ID, IssuedAt: time.Now(), KeyVersion: "v1"}, "/test")
	if _, err := f.hub.PublishEvent(context.Background(), completed); err != nil {
		t.Fatal(err)
	}
	for range ch { // the stream ends after Completed
	}
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(f.metrics.SSEClients) != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := testutil.ToFloat64(f.metrics.SSEClients); got != 0 {
		t.Errorf("sse clients after the stream ended = %v, want 0", got)
	}
}

// BenchmarkRequestMetricsOverhead isolates what observeHTTP and placeOrder add per
// POST /api/orders (two label lookups, a counter, a histogram, two clock reads and
// the placed counter), which BenchmarkPlaceOrderTracing's run-to-run noise hides.
func BenchmarkRequestMetricsOverhead(b *testing.B) {
	m := metrics.New(metrics.NewRegistry(), metrics.Frontend)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		method := methodLabel(http.MethodPost)
		m.HTTPRequests.WithLabelValues(method, "/api/orders", statusLabel(http.StatusAccepted)).Inc()
		m.HTTPDuration.WithLabelValues(method, "/api/orders").Observe(time.Since(start).Seconds())
		m.OrdersPlaced.Inc()
	}
}
