package stack_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// TestWorkloadTracesReachTheTraceView: a workload's standard OTLP exporter, given
// nothing but the environment the stack hands it, delivers its spans to the stack.
func TestWorkloadTracesReachTheTraceView(t *testing.T) {
	endpoint := st.Env("backend")["OTEL_EXPORTER_OTLP_ENDPOINT"]
	if endpoint != st.Endpoints().TraceView[:len(st.Endpoints().TraceView)-1] {
		t.Fatalf("OTEL_EXPORTER_OTLP_ENDPOINT = %q, trace view at %q", endpoint, st.Endpoints().TraceView)
	}
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(endpoint+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	_, span := tp.Tracer("test").Start(context.Background(), "stack trace view test")
	id := span.SpanContext().TraceID().String()
	span.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if spans := st.Traces().Trace(id); len(spans) != 1 || spans[0].Name != "stack trace view test" {
		t.Fatalf("trace view holds %+v", spans)
	}
}
