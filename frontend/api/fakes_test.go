package api

import (
	"bytes"
	"context"
	"github.com/contoso/orderflow/frontend/hub"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/contoso/orderflow/platform/metrics"
	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/orders/orderstest"
)

// fixture is a Server wired to fakes, served by httptest.
type fixture struct {
	t           *testing.T
	srv         *Server
	http        *httptest.Server
	orders      *orderstest.Orders
	publisher   *orderstest.Publisher
	attachments *orderstest.Attachments
	receipts    *orderstest.Receipts
	secrets     *orderstest.Secrets
	hub         *hub.Hub
	log         *bytes.Buffer
	metrics     *metrics.Metrics
}

func newFixture(t *testing.T, limits Limits) *fixture {
	t.Helper()
	return newFixtureTracedBy(t, limits, nil)
}

// newFixtureTracedBy is newFixture with the request spans started by tp (nil: otel's
// global provider, so otelhttp; telemetry.PropagatingProvider(): the bare span
// context of a process that exports nothing).
func newFixtureTracedBy(t *testing.T, limits Limits, tp trace.TracerProvider) *fixture {
	t.Helper()
	var logBuf bytes.Buffer
	f := &fixture{
		t:           t,
		orders:      orderstest.NewOrders(),
		publisher:   orderstest.NewPublisher(),
		attachments: orderstest.NewAttachments(),
		receipts:    orderstest.NewReceipts(),
		secrets:     orderstest.NewSecrets("v1", []byte("test-signing-key-0123456789abcdef")),
		hub:         hub.NewHub(),
		log:         &logBuf,
		metrics:     metrics.New(metrics.NewRegistry(), metrics.Frontend),
	}
	logger := slog.New(slog.NewTextHandler(&syncWriter{w: &logBuf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.srv = NewServer(Deps{
		Orders: f.orders, Attachments: f.attachments, Receipts: f.receipts,
		Publisher: f.publisher, Secrets: f.secrets, Hub: f.hub, Logger: logger, Metrics: f.metrics,
		TracerProvider: tp,
	}, limits)
	f.http = httptest.NewServer(f.srv)
	t.Cleanup(func() {
		f.hub.Close()
		f.http.Close()
	})
	return f
}

// syncWriter serialises writes to the log buffer from concurrent handlers.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (f *fixture) do(method, path, contentType string, body io.Reader) *http.Response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.http.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.http.Client().Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	f.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (f *fixture) postJSON(path, body string) *http.Response {
	return f.do(http.MethodPost, path, "application/json", strings.NewReader(body))
}

// seedOrder stores a Pending order of customer created at t.
func (f *fixture) seedOrder(customer string, created time.Time) *orders.Order {
	f.t.Helper()
	o, err := orders.NewOrder(orders.PlaceOrderInput{CustomerID: customer,
		Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: 2}}}, orders.DefaultCatalog(), created)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.orders.Create(context.Background(), o); err != nil {
		f.t.Fatal(err)
	}
	return o
}

// complete signs and stores a receipt for o and marks it Completed, as the worker does.
func (f *fixture) complete(o *orders.Order) *orders.Receipt {
	f.t.Helper()
	ctx := context.Background()
	r, err := orders.NewReceipt(o, orders.DefaultCatalog(), time.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	key, version, err := f.secrets.SigningKey(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := r.Sign(key, version); err != nil {
		f.t.Fatal(err)
	}
	if _, _, err := f.receipts.PutIfAbsent(ctx, r); err != nil {
		f.t.Fatal(err)
	}
	cur, err := f.orders.Get(ctx, o.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.orders.MarkCompleted(ctx, cur, r.Ref()); err != nil {
		f.t.Fatal(err)
	}
	return r
}
