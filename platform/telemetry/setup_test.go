package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/contoso/orderflow/platform/config"
	"github.com/contoso/orderflow/platform/telemetry"
)

const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// restoreGlobals puts back the process-wide provider and propagator Setup replaces.
func restoreGlobals(t *testing.T) {
	tp, prop := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() { otel.SetTracerProvider(tp); otel.SetTextMapPropagator(prop) })
}

// TestSetupWithoutEndpointPropagates: with nothing to export to, an incoming
// traceparent is still continued, so logs and downstream messages keep the trace.
func TestSetupWithoutEndpointPropagates(t *testing.T) {
	restoreGlobals(t)
	shutdown, err := telemetry.Setup(context.Background(), "frontend", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(context.Background())
	if telemetry.Records(otel.GetTracerProvider()) {
		t.Error("Records says the propagate-only provider keeps spans: otelhttp and the SDK spans would be paid for nothing")
	}
	ctx := otel.GetTextMapPropagator().Extract(context.Background(), propagation.MapCarrier{"traceparent": incoming})
	ctx, span := otel.Tracer("test").Start(ctx, "child")
	defer span.End()
	sc := span.SpanContext()
	if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || sc.SpanID().String() == "00f067aa0ba902b7" || !sc.IsSampled() {
		t.Errorf("child span context %v does not continue the incoming trace", sc)
	}
	out := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, out)
	if !strings.HasPrefix(out["traceparent"], "00-4bf92f3577b34da6a3ce929d0e0e4736-"+sc.SpanID().String()) {
		t.Errorf("outgoing traceparent %q", out["traceparent"])
	}
}

// TestSetupExportsToEndpoint: with OTEL_EXPORTER_OTLP_ENDPOINT set, shutdown posts
// the spans as OTLP/HTTP protobuf to <endpoint>/v1/traces.
func TestSetupExportsToEndpoint(t *testing.T) {
	restoreGlobals(t)
	var mu sync.Mutex
	var posts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posts = append(posts, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type")+" "+string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	env := map[string]string{config.EnvOTLPEndpoint: srv.URL + "/"}
	shutdown, err := telemetry.Setup(context.Background(), "backend", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !telemetry.Records(otel.GetTracerProvider()) {
		t.Error("Records says the exporting provider keeps nothing")
	}
	_, span := otel.Tracer("test").Start(context.Background(), "exported-span")
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posts) != 1 || !strings.HasPrefix(posts[0], "POST /v1/traces application/x-protobuf") ||
		!strings.Contains(posts[0], "exported-span") || !strings.Contains(posts[0], "backend") {
		t.Errorf("posts = %q", posts)
	}
}

func TestRecords(t *testing.T) {
	if !telemetry.Records(sdktrace.NewTracerProvider()) || telemetry.Records(noop.NewTracerProvider()) || telemetry.Records(telemetry.PropagatingProvider()) {
		t.Error("Records: an SDK provider must record; a no-op one and the propagating one must not")
	}
}

func TestSetupRejectsBadEndpoint(t *testing.T) {
	restoreGlobals(t)
	for _, name := range []string{config.EnvOTLPEndpoint, config.EnvOTLPTracesEndpoint} {
		_, err := telemetry.Setup(context.Background(), "frontend", func(k string) string {
			if k == name {
				return "otel-collector:4318"
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s without a scheme: err = %v", name, err)
		}
	}
}

// TestAzureTracingProvider: the SDK's spans become OpenTelemetry spans, children of
// the caller's, with their kind, attributes and error status.
func TestAzureTracingProvider(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "parent")
	tracer := telemetry.AzureTracingProvider(tp).NewTracer("azcosmos", "v1.5.0")
	if !tracer.Enabled() {
		t.Fatal("tracer not enabled")
	}
	cctx, span := tracer.Start(ctx, "create_item orders", &tracing.SpanOptions{
		Kind:       tracing.SpanKindClient,
		Attributes: []tracing.Attribute{{Key: "db.system", Value: "cosmosdb"}, {Key: "http.status_code", Value: 409}},
	})
	if got := trace.SpanFromContext(cctx).SpanContext(); got.TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("SDK span not in the caller's trace")
	}
	tracer.SpanFromContext(cctx).AddEvent("retry", tracing.Attribute{Key: "try", Value: int64(2)})
	span.SetStatus(tracing.SpanStatusError, "409 Conflict")
	span.End()
	parent.End()

	ended := rec.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans ended", len(ended))
	}
	s := ended[0]
	if s.Name() != "create_item orders" || s.SpanKind() != trace.SpanKindClient || s.Parent().SpanID() != parent.SpanContext().SpanID() ||
		s.Status().Description != "409 Conflict" || s.InstrumentationScope().Name != "azcosmos" {
		t.Errorf("span = %s kind %v parent %v status %+v scope %+v", s.Name(), s.SpanKind(), s.Parent().SpanID(), s.Status(), s.InstrumentationScope())
	}
	attrs := map[string]string{}
	for _, a := range s.Attributes() {
		attrs[string(a.Key)] = a.Value.String()
	}
	if attrs["db.system"] != "cosmosdb" || attrs["http.status_code"] != "409" {
		t.Errorf("attributes %v", attrs)
	}
	if len(s.Events()) != 1 || s.Events()[0].Name != "retry" {
		t.Errorf("events %v", s.Events())
	}
}
