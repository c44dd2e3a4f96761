package api

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/trace"
)

// holdingProvider wraps the tracer provider otelhttp starts the request spans
// with, so that a request whose handler hands its connection over (the SSE
// stream, events.go) can keep its span open after the handler returned: otelhttp
// ends the span as soon as ServeHTTP returns, but the stream's span is meant to
// cover the stream, and every status it sends is an event on it (sendStatus).
type holdingProvider struct{ trace.TracerProvider }

func (p holdingProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return holdingTracer{p.TracerProvider.Tracer(name, opts...)}
}

type holdingTracer struct{ trace.Tracer }

func (t holdingTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	ctx, span := t.Tracer.Start(ctx, name, opts...)
	h := &holdableSpan{Span: span}
	return trace.ContextWithSpan(ctx, h), h
}

// holdableSpan defers End while it is held.
type holdableSpan struct {
	trace.Span

	mu      sync.Mutex
	held    bool
	ended   bool // End was called while held
	endOpts []trace.SpanEndOption
}

func (s *holdableSpan) End(opts ...trace.SpanEndOption) {
	s.mu.Lock()
	if s.held {
		s.ended, s.endOpts = true, opts
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.Span.End(opts...)
}

// holdSpan keeps the span in ctx open past its End until the returned release
// is called, which ends it if End came meanwhile. Spans not started through a
// holdingProvider cannot be held: release does nothing for them.
func holdSpan(ctx context.Context) (release func()) {
	s, ok := trace.SpanFromContext(ctx).(*holdableSpan)
	if !ok {
		return func() {}
	}
	s.mu.Lock()
	s.held = true
	s.mu.Unlock()
	return s.release
}

func (s *holdableSpan) release() {
	s.mu.Lock()
	ended, opts := s.ended, s.endOpts
	s.held, s.ended, s.endOpts = false, false, nil
	s.mu.Unlock()
	if ended {
		s.Span.End(opts...)
	}
}
