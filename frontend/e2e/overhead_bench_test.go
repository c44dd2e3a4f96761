package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"go.opentelemetry.io/otel"

	"github.com/contoso/orderflow/frontend/api"
	"github.com/contoso/orderflow/frontend/hub"
	"github.com/contoso/orderflow/platform/azure/azuretest"
	"github.com/contoso/orderflow/platform/cosmos"
	"github.com/contoso/orderflow/platform/metrics"
	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/servicebus"
	"github.com/contoso/orderflow/platform/telemetry"
)

// BenchmarkPlaceOrderOverStack measures what POST /api/orders costs the frontend
// itself against the real SDK calls over the wire: in the same run, alternating
// request by request, (a) the frontend's handler with its real adapters
// (platform/cosmos, platform/servicebus) on the local stack, served in-process so no
// network to the frontend is counted, and (b) a raw loop of the same SDK calls
// (CreateItem, SendMessage, ReplaceItem with If-Match) on the same clients. It reports
// both p50s, their difference (the frontend's own time: routing, decoding, validation,
// the adapters, encoding, logging, metrics) and their ratio. The stack and the
// backend share the machine, so the absolute figures move; the ratio is the figure.
func BenchmarkPlaceOrderOverStack(b *testing.B) {
	if env.skip != "" {
		b.Skip(env.skip)
	}
	// Tracing as telemetry.Setup leaves a process without an OTLP endpoint, the
	// deployment's default: installed before the clients are built, as in main.
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(telemetry.PropagatingProvider())
	defer otel.SetTracerProvider(prev)
	clients, cfg := azuretest.ClientsFor(b, env.frontendStackEnv)
	publisher, err := servicebus.NewPublisher(clients.ServiceBus, cfg.ServiceBus.OrdersQueue, servicebus.SourceFrontend)
	if err != nil {
		b.Fatal(err)
	}
	defer publisher.Close(context.Background())
	h := hub.NewHub()
	defer h.Close()
	srv := api.NewServer(api.Deps{
		Orders: cosmos.New(clients.Orders), Publisher: publisher, Hub: h,
		Logger:  telemetry.NewLogger(io.Discard, slog.LevelInfo, "frontend"), // JSON logs at info, as deployed
		Metrics: metrics.New(metrics.NewRegistry(), metrics.Frontend),
	}, api.Limits{})
	sender, err := clients.ServiceBus.NewSender(cfg.ServiceBus.OrdersQueue, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer sender.Close(context.Background())
	ctx := context.Background()
	body := `{"customerId":"bench-overhead","items":[{"productId":"mug-ceramic","quantity":2},{"productId":"filter-papers-100","quantity":1}]}`

	post := func() time.Duration {
		req := httptest.NewRequest(http.MethodPost, "/api/orders", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		t0 := time.Now()
		srv.ServeHTTP(rec, req)
		d := time.Since(t0)
		if rec.Code != http.StatusAccepted {
			b.Fatalf("POST /api/orders: %d %s", rec.Code, rec.Body)
		}
		return d
	}
	raw := func() time.Duration {
		o, err := orders.NewOrder(orders.PlaceOrderInput{CustomerID: "bench-overhead-raw", Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: 2}, {ProductID: "filter-papers-100", Quantity: 1}}}, orders.DefaultCatalog(), time.Now())
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		doc, _ := json.Marshal(o)
		pk := azcosmos.NewPartitionKeyString(o.CustomerID)
		created, err := clients.Orders.CreateItem(ctx, pk, doc, nil)
		if err != nil {
			b.Fatal(err)
		}
		ev, _ := orders.NewOrderPlacedEvent(o, servicebus.SourceFrontend, time.Now())
		evBody, _ := ev.Encode()
		id := ev.ID
		if err := sender.SendMessage(ctx, &azservicebus.Message{MessageID: &id, Body: evBody}, nil); err != nil {
			b.Fatal(err)
		}
		o.Published = true
		doc, _ = json.Marshal(o)
		etag := azcore.ETag(created.ETag)
		if _, err := clients.Orders.ReplaceItem(ctx, pk, o.ID, doc, &azcosmos.ItemOptions{IfMatchEtag: &etag}); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	// Warm both paths: connections, tokens, the stand-ins' first requests.
	for range 20 {
		post()
		raw()
	}
	app := make([]time.Duration, 0, b.N)
	sdk := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		app = append(app, post())
		sdk = append(sdk, raw())
	}
	b.StopTimer()
	slices.Sort(app)
	slices.Sort(sdk)
	a50, r50 := app[len(app)/2], sdk[len(sdk)/2]
	b.ReportMetric(float64(a50.Microseconds()), "post-p50-µs")
	b.ReportMetric(float64(r50.Microseconds()), "raw-p50-µs")
	b.ReportMetric(float64((a50 - r50).Microseconds()), "own-p50-µs")
	b.ReportMetric(float64(a50)/float64(r50), "post/raw")
}
