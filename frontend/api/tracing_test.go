package api

import (
	"context"
	"encoding/json"
	"github.com/contoso/orderflow/frontend/hub"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/orders/orderstest"
	"github.com/contoso/orderflow/platform/telemetry"
)

const incomingTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"

// tracedServer is a server whose spans go to the returned recorder, with the W3C
// propagator installed as telemetry.Setup does; its JSON log goes to logs.
func tracedServer(t *testing.T, limits Limits) (*Server, *httptest.Server, *tracetest.SpanRecorder, *strings.Builder, *orderstest.Orders) {
	t.Helper()
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	rec := tracetest.NewSpanRecorder()
	logs := &strings.Builder{}
	store := orderstest.NewOrders()
	srv := NewServer(Deps{
		Orders: store, Publisher: orderstest.NewPublisher(), Attachments: orderstest.NewAttachments(),
		Receipts: orderstest.NewReceipts(), Hub: hub.NewHub(),
		Logger:         telemetry.NewLogger(&syncWriter{w: logs}, slog.LevelInfo, "frontend"),
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)),
	}, limits)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.hub.Close(); hs.Close() })
	return srv, hs, rec, logs, store
}

func spanNamed(spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	for _, s := range spans {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

// postOrderTraced places an order with the given traceparent ("" for none) and
// expects it accepted.
func postOrderTraced(t *testing.T, hs *httptest.Server, traceparent string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/api/orders", strings.NewReader(`{"customerId":"c-1","items":[{"productId":"mug-ceramic","quantity":1}]}`))
	req.Header.Set("Content-Type", "application/json")
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/orders: status %d", resp.StatusCode)
	}
}

// TestRequestSpanUsesRouteAndIncomingTrace: the POST's span continues the caller's
// traceparent and is named after the Echo route template; the request log line
// carries its IDs.
func TestRequestSpanUsesRouteAndIncomingTrace(t *testing.T) {
	_, hs, rec, logs, _ := tracedServer(t, Limits{})
	postOrderTraced(t, hs, "00-"+incomingTraceID+"-00f067aa0ba902b7-01")
	resp, err := hs.Client().Get(hs.URL + "/api/orders/0b0e6a63-3b1c-4d8e-9f4e-6d1b2c3a4f5e")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	post := spanNamed(rec.Ended(), "POST /api/orders")
	if post == nil {
		t.Fatalf("no span POST /api/orders in %v", names(rec.Ended()))
	}
	if post.SpanContext().TraceID().String() != incomingTraceID || post.Parent().SpanID().String() != "00f067aa0ba902b7" ||
		post.SpanKind() != trace.SpanKindServer || attr(post, "http.route") != "/api/orders" {
		t.Errorf("POST span trace %s parent %s kind %v route %q", post.SpanContext().TraceID(), post.Parent().SpanID(), post.SpanKind(), attr(post, "http.route"))
	}
	get := spanNamed(rec.Ended(), "GET /api/orders/:id")
	if get == nil || attr(get, "http.route") != "/api/orders/:id" || get.SpanContext().TraceID().String() == incomingTraceID {
		t.Errorf("GET span: %v (spans %v)", get, names(rec.Ended()))
	}
	line := strings.SplitN(logs.String(), "\n", 2)[0]
	if !strings.Contains(line, `"trace_id":"`+incomingTraceID+`"`) || !strings.Contains(line, `"span_id":"`+post.SpanContext().SpanID().String()+`"`) {
		t.Errorf("request log line lacks the span's IDs: %s", line)
	}
}

// TestSSEPushContinuesEventTrace: a status event from the topic is pushed in a span
// of the trace that delivered it (child of the feed's consumer span), linked to the
// stream's own request span.
func TestSSEPushContinuesEventTrace(t *testing.T) {
	srv, hs, rec, _, store := tracedServer(t, Limits{Poll: time.Hour, Heartbeat: time.Hour})
	o := &orders.Order{ID: orders.NewID(), CustomerID: "c-1", Status: orders.StatusPending,
		Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: 1}}, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := store.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	resp, err := hs.Client().Get(hs.URL + "/api/orders/" + o.ID + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	waitSubscribers(t, srv.hub, o.ID, 1)

	consumer := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceFlags: trace.FlagsSampled,
	})
	completed, err := orders.NewOrderCompletedEvent(o, &orders.Receipt{OrderID: o.ID, IssuedAt: time.Now(), KeyVersion: "v1"}, "/test")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := srv.hub.PublishEvent(trace.ContextWithSpanContext(context.Background(), consumer), completed); err != nil || n != 1 {
		t.Fatalf("PublishEvent = %d, %v", n, err)
	}
	body, _ := io.ReadAll(resp.Body) // the stream ends after Completed
	if !strings.Contains(string(body), `"status":"Completed"`) {
		t.Fatalf("stream: %s", body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for spanNamed(rec.Ended(), "GET /api/orders/:id/events") == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	push := spanNamed(rec.Ended(), "sse.push")
	stream := spanNamed(rec.Ended(), "GET /api/orders/:id/events")
	if push == nil || stream == nil {
		t.Fatalf("spans %v", names(rec.Ended()))
	}
	if push.SpanContext().TraceID() != consumer.TraceID() || push.Parent().SpanID() != consumer.SpanID() ||
		attr(push, "orderflow.order.status") != "Completed" || len(push.Links()) != 1 ||
		push.Links()[0].SpanContext.SpanID() != stream.SpanContext().SpanID() {
		t.Errorf("push span trace %s parent %s attrs %v links %v", push.SpanContext().TraceID(), push.Parent().SpanID(), push.Attributes(), push.Links())
	}
	// The stream's span records both statuses it sent.
	var sent []string
	for _, e := range stream.Events() {
		if e.Name == "sse.status" {
			for _, a := range e.Attributes {
				if a.Key == "orderflow.order.status" {
					sent = append(sent, a.Value.AsString())
				}
			}
		}
	}
	if strings.Join(sent, ",") != "Pending,Completed" {
		t.Errorf("stream span events %v", sent)
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

// TestRequestTraceWithoutExporter: with the provider telemetry.Setup installs when
// nothing is exported (no otelhttp then), a POST still continues the caller's
// traceparent with a span of its own, and a request without one starts a trace;
// the log lines carry the IDs either way.
func TestRequestTraceWithoutExporter(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	logs := &strings.Builder{}
	srv := NewServer(Deps{
		Orders: orderstest.NewOrders(), Publisher: orderstest.NewPublisher(), Hub: hub.NewHub(),
		Logger:         telemetry.NewLogger(&syncWriter{w: logs}, slog.LevelInfo, "frontend"),
		TracerProvider: telemetry.PropagatingProvider(),
	}, Limits{})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.hub.Close(); hs.Close() })

	for _, traceparent := range []string{"00-" + incomingTraceID + "-00f067aa0ba902b7-01", ""} {
		logs.Reset()
		postOrderTraced(t, hs, traceparent)
		var line struct {
			TraceID string `json:"trace_id"`
			SpanID  string `json:"span_id"`
		}
		if err := json.Unmarshal([]byte(strings.SplitN(logs.String(), "\n", 2)[0]), &line); err != nil {
			t.Fatalf("request log line: %v in %s", err, logs.String())
		}
		traceID, _ := trace.TraceIDFromHex(line.TraceID)
		spanID, _ := trace.SpanIDFromHex(line.SpanID)
		if !traceID.IsValid() || !spanID.IsValid() || line.SpanID == "00f067aa0ba902b7" {
			t.Errorf("traceparent %q: the log line's IDs %q/%q are not a span of its own", traceparent, line.TraceID, line.SpanID)
		}
		if continued := line.TraceID == incomingTraceID; continued != (traceparent != "") {
			t.Errorf("traceparent %q: log line trace %s", traceparent, line.TraceID)
		}
	}
}
