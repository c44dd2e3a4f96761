package api

import (
	"context"
	"github.com/contoso/orderflow/frontend/hub"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/contoso/orderflow/platform/metrics"
	"github.com/contoso/orderflow/platform/orders/orderstest"
	"github.com/contoso/orderflow/platform/telemetry"
)

// discardExporter takes batches and drops them: the cost measured is the spans'
// recording and batching, not a network.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// BenchmarkPlaceOrderTracing measures the frontend's own time for POST /api/orders
// (with the fakes of bench_test.go) under three TracerProviders in the same run,
// interleaved in rounds so machine drift hits all alike: "noop" (no SDK at all),
// "off" (what telemetry.Setup installs without an OTLP endpoint: trace context carried
// on, nothing recorded) and "on" (a batch processor feeding an
// exporter that discards). It reports each p50 and mean, and the ratios of the means.
func BenchmarkPlaceOrderTracing(b *testing.B) {
	offTP := telemetry.PropagatingProvider()
	onTP := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardExporter{}))
	defer onTP.Shutdown(context.Background())
	variants := []struct {
		name string
		tp   trace.TracerProvider
	}{{"noop", noop.NewTracerProvider()}, {"off", offTP}, {"on", onTP}}

	type run struct {
		srv   *Server
		clock *sdkClock
		own   []time.Duration
	}
	runs := make([]*run, len(variants))
	for i, v := range variants {
		clock := &sdkClock{}
		hub := hub.NewHub()
		defer hub.Close()
		runs[i] = &run{clock: clock, own: make([]time.Duration, 0, b.N), srv: NewServer(Deps{
			Orders:    timedOrders{orderstest.NewOrders(), clock},
			Publisher: timedPublisher{orderstest.NewPublisher(), clock},
			Hub:       hub,
			// The production logger, so the trace_id/span_id attributes are paid for.
			Logger:         telemetry.NewLogger(io.Discard, slog.LevelInfo, "frontend"),
			TracerProvider: v.tp,
			// Registered metrics, as in production, so their cost is in the figures.
			Metrics: metrics.New(metrics.NewRegistry(), metrics.Frontend),
		}, Limits{})}
	}
	body := `{"customerId":"bench-customer","items":[{"productId":"mug-ceramic","quantity":2},{"productId":"filter-papers-100","quantity":1}],"note":"benchmark"}`
	one := func(r *run) {
		req := httptest.NewRequest(http.MethodPost, "/api/orders", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		rec := httptest.NewRecorder()
		r.clock.spent = 0
		t0 := time.Now()
		r.srv.ServeHTTP(rec, req)
		total := time.Since(t0)
		if rec.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		r.own = append(r.own, total-r.clock.spent)
	}
	b.ReportAllocs()
	b.ResetTimer()
	const round = 64
	for done := 0; done < b.N; done += round {
		for _, r := range runs {
			for i := done; i < min(done+round, b.N); i++ {
				one(r)
			}
		}
	}
	b.StopTimer()
	mean := make([]float64, len(runs))
	for i, r := range runs {
		var sum time.Duration
		for _, d := range r.own {
			sum += d
		}
		mean[i] = float64(sum.Nanoseconds()) / float64(len(r.own)) / 1e3
		slices.Sort(r.own)
		b.ReportMetric(float64(r.own[len(r.own)/2].Nanoseconds())/1e3, variants[i].name+"-p50-µs")
		b.ReportMetric(mean[i], variants[i].name+"-mean-µs")
	}
	b.ReportMetric(mean[2]/mean[1], "on/off")
	b.ReportMetric(mean[2]/mean[0], "on/noop")
	b.ReportMetric(mean[1]/mean[0], "off/noop")
}
