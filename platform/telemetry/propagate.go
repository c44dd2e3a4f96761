package telemetry

import (
	"context"
	"encoding/binary"
	"math/rand/v2"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// propagatingProvider is the TracerProvider of a service that exports nothing: each
// span only carries trace context on, so that a traceparent is continued (and sent
// on to Service Bus and the Azure SDKs) and every log line of a request has its
// trace_id and span_id, at the cost of two random numbers per span. The SDK's
// provider would also record every sampled span (attributes, events, timing) only
// to drop it at the end: about 40 µs per order measured in BenchmarkPlaceOrderTracing.
type propagatingProvider struct{ embedded.TracerProvider }

// PropagatingProvider is the TracerProvider Setup installs when nothing is exported
// (see propagatingProvider); benchmarks compare with it.
func PropagatingProvider() trace.TracerProvider { return propagatingProvider{} }

func (propagatingProvider) Tracer(string, ...trace.TracerOption) trace.Tracer {
	return propagatingTracer{}
}

type propagatingTracer struct{ embedded.Tracer }

// Start continues the parent's trace (its trace id, flags and state) with a new
// span id, or starts a sampled trace when there is no parent.
func (propagatingTracer) Start(ctx context.Context, _ string, _ ...trace.SpanStartOption) (context.Context, trace.Span) {
	parent := trace.SpanContextFromContext(ctx)
	cfg := trace.SpanContextConfig{
		TraceID: parent.TraceID(), TraceFlags: parent.TraceFlags(), TraceState: parent.TraceState(),
	}
	if !parent.TraceID().IsValid() {
		binary.BigEndian.PutUint64(cfg.TraceID[:8], rand.Uint64())
		binary.BigEndian.PutUint64(cfg.TraceID[8:], rand.Uint64()|1) // never all zero
		cfg.TraceFlags = trace.FlagsSampled
	}
	binary.BigEndian.PutUint64(cfg.SpanID[:], rand.Uint64()|1)
	span := contextSpan{sc: trace.NewSpanContext(cfg)}
	return trace.ContextWithSpan(ctx, span), span
}

// contextSpan is a span that records nothing and only has its context.
type contextSpan struct {
	noop.Span
	sc trace.SpanContext
}

func (s contextSpan) SpanContext() trace.SpanContext { return s.sc }

// Records reports whether spans started from tp are kept: false for the provider
// Setup installs when nothing is exported, and for a no-op one. Instrumentation
// whose work only ends up in recorded spans (otelhttp's attributes, body and writer
// wrappers and metrics; the Azure SDKs' operation and HTTP spans) can then be left
// out with nothing observable lost, as long as the trace context still flows.
// otel's global provider before Setup delegates to whatever comes later, so it
// counts as recording.
func Records(tp trace.TracerProvider) bool {
	switch tp.(type) {
	case propagatingProvider, noop.TracerProvider:
		return false
	}
	return true
}
