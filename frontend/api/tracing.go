package api

import (
	"context"
	"github.com/contoso/orderflow/frontend/hub"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// tracerName is the instrumentation scope of the spans this package starts.
const tracerName = "github.com/contoso/orderflow/frontend/api"

// routeSpan names the request's span (started by otelhttp around Echo) "METHOD
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
