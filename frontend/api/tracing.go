package api

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/contoso/orderflow/frontend/hub"
	"github.com/contoso/orderflow/platform/metrics"
	"github.com/contoso/orderflow/platform/telemetry"
)

// tracerName is the instrumentation scope of the spans this package starts.
const tracerName = "github.com/contoso/orderflow/frontend/api"

// requestTracing wraps h in each request's span. With a provider that records (an
// exporter is configured) that is otelhttp's, with the HTTP semantic conventions'
// attributes. The span starts before Echo routes the request, so it is named after
// the method only and renamed by routeSpan once the route is known: a raw path
// (with an order ID in it) would make every request its own span name.
//
// With a provider that records nothing (telemetry.Records), only what is
// observable is kept: an incoming traceparent is continued and the request gets a
// span context of its own, for its log lines and for the messages it sends.
// otelhttp would also build its attributes, wrap the body and the writer, and
// record its metrics into otel's no-op meter on every request, all of it dropped.
func requestTracing(tp trace.TracerProvider, h http.Handler) http.Handler {
	// A scrape every 30 s per replica is not traffic worth a trace.
	traced := func(r *http.Request) bool { return r.URL.Path != metrics.Path }
	if telemetry.Records(tp) {
		return otelhttp.NewHandler(h, "frontend",
			// Holding: an SSE stream keeps its request span open for its whole life
			// after its handler returned (span_hold.go).
			otelhttp.WithTracerProvider(holdingProvider{tp}),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
			otelhttp.WithFilter(traced))
	}
	tracer := tp.Tracer(tracerName)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !traced(r) {
			h.ServeHTTP(w, r)
			return
		}
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// routeSpan names the request's span (started by requestTracing around Echo) "METHOD
// route" with the route template, e.g. "GET /api/orders/:id", and sets http.route,
// as the HTTP semantic conventions ask: the template keeps span names few and
// groupable, where the raw path would carry IDs. Unmatched requests keep the bare
// method.
func routeSpan(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if route := c.Path(); route != "" {
			span := trace.SpanFromContext(c.Request().Context())
			span.SetName(c.Request().Method + " " + route)
			span.SetAttributes(semconv.HTTPRoute(route))
		}
		return next(c)
	}
}

// sendStatus writes ev to the SSE stream. An event that came from the order-events
// topic carries the span context of the feed's consumer span, and the push becomes
// a span in that trace (the one that began with the POST that placed the order),
// linked to this stream's request span; every status sent is also an event on the
// request span, so the stream's own trace shows what it delivered.
func (s *Server) sendStatus(ctx context.Context, st frameSink, ev hub.StatusEvent, source string) error {
	attrs := []attribute.KeyValue{attribute.String("orderflow.order.id", ev.OrderID), attribute.String("orderflow.order.status", ev.Status), attribute.String("orderflow.sse.source", source)}
	trace.SpanFromContext(ctx).AddEvent("sse.status", trace.WithAttributes(attrs...))
	if !ev.Trace.IsValid() {
		return sendEvent(st, ev)
	}
	_, span := s.tracer.Start(trace.ContextWithSpanContext(ctx, ev.Trace), "sse.push",
		trace.WithLinks(trace.LinkFromContext(ctx)), trace.WithAttributes(attrs...))
	err := sendEvent(st, ev)
	if err != nil {
		// The client left; its browser reconnects and reads the status from the store.
		span.SetStatus(codes.Error, "client gone: "+err.Error())
	}
	span.End()
	return err
}
