package servicebus

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/telemetry"
)

type recordingSender struct{ sent []*azservicebus.Message }

func (r *recordingSender) SendMessage(_ context.Context, m *azservicebus.Message, _ *azservicebus.SendMessageOptions) error {
	r.sent = append(r.sent, m)
	return nil
}
func (r *recordingSender) Close(context.Context) error { return nil }

// recordSpans installs a recording TracerProvider for the test.
func recordSpans(t *testing.T) *tracetest.SpanRecorder {
	rec := tracetest.NewSpanRecorder()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	return rec
}

var incoming = trace.NewSpanContext(trace.SpanContextConfig{
	TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
	SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
	TraceFlags: trace.FlagsSampled,
	Remote:     true,
})

func TestPublishersSetIDsTypeAndTrace(t *testing.T) {
	rec := recordSpans(t)
	rs := &recordingSender{}
	p := &Publisher{s: rs, queue: "orders", source: SourceFrontend, now: time.Now}
	o := &orders.Order{ID: "o-7", CustomerID: "c", Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: 1}}}
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), incoming)
	if err := p.PublishOrderPlaced(ctx, o); err != nil {
		t.Fatal(err)
	}
	ep := &EventPublisher{s: rs, topic: "order-events", source: SourceBackend}
	if err := ep.PublishOrderCompleted(ctx, o, &orders.Receipt{OrderID: "o-7", KeyVersion: "v1", IssuedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if len(rs.sent) != 2 {
		t.Fatalf("sent %d", len(rs.sent))
	}
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d producer spans", len(spans))
	}
	for i, want := range []struct{ id, typ, dest string }{{"o-7", orders.TypeOrderPlaced, "orders"}, {"o-7-completed", orders.TypeOrderCompleted, "order-events"}} {
		m := rs.sent[i]
		if *m.MessageID != want.id || *m.Subject != want.typ || *m.ContentType != orders.ContentTypeCloudEvents {
			t.Errorf("message %d: id=%s subject=%s ct=%s", i, *m.MessageID, *m.Subject, *m.ContentType)
		}
		// The message carries the producer span, a child of the caller's.
		s := spans[i]
		tp := "00-" + incoming.TraceID().String() + "-" + s.SpanContext().SpanID().String() + "-01"
		if m.ApplicationProperties["traceparent"] != tp || m.ApplicationProperties[DiagnosticIDProperty] != tp {
			t.Errorf("message %d: traceparent %v, Diagnostic-Id %v, want %s", i, m.ApplicationProperties["traceparent"], m.ApplicationProperties[DiagnosticIDProperty], tp)
		}
		attrs := map[string]string{}
		for _, a := range s.Attributes() {
			attrs[string(a.Key)] = a.Value.String()
		}
		if s.Name() != "send "+want.dest || s.SpanKind() != trace.SpanKindProducer || s.Parent().SpanID() != incoming.SpanID() ||
			attrs["messaging.system"] != "servicebus" || attrs["messaging.destination.name"] != want.dest || attrs["messaging.message.id"] != want.id {
			t.Errorf("producer span %s kind %v parent %v attrs %v", s.Name(), s.SpanKind(), s.Parent().SpanID(), attrs)
		}
		ev, err := orders.DecodeEvent(m.Body)
		if err != nil || ev.Type != want.typ || ev.ID != want.id {
			t.Errorf("message %d body: %+v %v", i, ev, err)
		}
	}
}

// TestCarrierRoundTrip: what send injects, StartProcess extracts, so the consumer's
// span is the producer's child in the same trace.
func TestCarrierRoundTrip(t *testing.T) {
	rec := recordSpans(t)
	props := map[string]any{"cloudEvents:type": orders.TypeOrderPlaced, "count": int64(3)}
	propagator.Inject(trace.ContextWithRemoteSpanContext(context.Background(), incoming), PropertiesCarrier(props))
	want := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if props["traceparent"] != want || props[DiagnosticIDProperty] != want {
		t.Fatalf("injected %v", props)
	}
	keys := PropertiesCarrier(props).Keys()
	if strings.Contains(strings.Join(keys, ","), "count") || len(keys) != 3 {
		t.Errorf("Keys() = %v, want the three string properties", keys)
	}

	m := &Message{ID: "o-1", DeliveryCount: 2, Properties: props, Entity: "order-events", Subscription: "frontend"}
	_, span := StartProcess(context.Background(), m)
	EndProcess(span, "complete", nil)
	s := rec.Ended()[0]
	attrs := map[string]string{}
	for _, a := range s.Attributes() {
		attrs[string(a.Key)] = a.Value.String()
	}
	if s.SpanContext().TraceID() != incoming.TraceID() || s.Parent().SpanID() != incoming.SpanID() || !s.Parent().IsRemote() ||
		s.SpanKind() != trace.SpanKindConsumer || s.Name() != "process order-events" ||
		attrs["messaging.destination.subscription.name"] != "frontend" || attrs["messaging.servicebus.message.delivery_count"] != "2" ||
		attrs["messaging.servicebus.disposition_status"] != "complete" || attrs["messaging.message.id"] != "o-1" {
		t.Errorf("consumer span %s parent %v kind %v attrs %v", s.Name(), s.Parent(), s.SpanKind(), attrs)
	}
}

// TestCarrierReadsDiagnosticID: a message from another Azure SDK that carries only
// Diagnostic-Id still continues its trace; one with neither starts a new trace.
func TestCarrierReadsDiagnosticID(t *testing.T) {
	recordSpans(t)
	m := &Message{ID: "x", Properties: map[string]any{DiagnosticIDProperty: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	_, span := StartProcess(context.Background(), m)
	if span.SpanContext().TraceID() != incoming.TraceID() {
		t.Errorf("Diagnostic-Id not continued: %v", span.SpanContext())
	}
	span.End()
	_, span = StartProcess(context.Background(), &Message{ID: "y", Properties: map[string]any{"traceparent": "garbage"}})
	if !span.SpanContext().IsValid() || span.SpanContext().TraceID() == incoming.TraceID() {
		t.Errorf("invalid traceparent: span %v", span.SpanContext())
	}
	span.End()
}

// TestTraceCarriedWithoutExporter: with the provider telemetry.Setup installs when
// nothing is exported, spans here start bare, yet the message still carries the
// caller's trace and the consumer continues it.
func TestTraceCarriedWithoutExporter(t *testing.T) {
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(telemetry.PropagatingProvider())
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	rs := &recordingSender{}
	p := &Publisher{s: rs, queue: "orders", source: SourceFrontend, now: time.Now}
	o := &orders.Order{ID: "o-8", CustomerID: "c", Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: 1}}}
	if err := p.PublishOrderPlaced(trace.ContextWithRemoteSpanContext(context.Background(), incoming), o); err != nil {
		t.Fatal(err)
	}
	tp, _ := rs.sent[0].ApplicationProperties["traceparent"].(string)
	if !strings.HasPrefix(tp, "00-"+incoming.TraceID().String()+"-") || strings.Contains(tp, incoming.SpanID().String()) {
		t.Fatalf("traceparent %q does not continue the caller's trace with a span of its own", tp)
	}
	_, span := StartProcess(context.Background(), &Message{ID: "o-8", Entity: "orders", Properties: rs.sent[0].ApplicationProperties})
	EndProcess(span, "complete", nil)
	if got := span.SpanContext(); got.TraceID() != incoming.TraceID() || "00-"+got.TraceID().String()+"-"+got.SpanID().String()+"-01" == tp {
		t.Errorf("consumer span %v: want the message's trace with a span of its own", got)
	}
}
