package servicebus

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/telemetry"
)

// DiagnosticIDProperty is the application property the Azure SDKs of other languages
// (and Application Insights) read and write for the same purpose as traceparent;
// it carries the same value, so a consumer written with them joins the trace too.
const DiagnosticIDProperty = "Diagnostic-Id"

// tracerName is the instrumentation scope of the spans this package starts.
const tracerName = "github.com/contoso/orderflow/platform/servicebus"

// propagator is fixed to W3C Trace Context rather than taken from otel's global: the
// traceparent property is part of the event contract (docs/architecture.md), which
// must not depend on how a process configured its propagators.
var propagator = propagation.TraceContext{}

// PropertiesCarrier lets an OpenTelemetry propagator read and write a message's
// application properties. Service Bus has no tracing of its own in the Go SDK, so
// the trace crosses the broker only in these properties.
type PropertiesCarrier map[string]any

var _ propagation.TextMapCarrier = PropertiesCarrier(nil)

// Get returns the string property key. A message without traceparent but with
// Diagnostic-Id (sent by another Azure SDK) is read through the latter.
func (c PropertiesCarrier) Get(key string) string {
	s, _ := c[key].(string)
	if s == "" && key == orders.TraceparentProperty {
		s, _ = c[DiagnosticIDProperty].(string)
	}
	return s
}

// Set writes the property; traceparent is mirrored into Diagnostic-Id.
func (c PropertiesCarrier) Set(key, value string) {
	c[key] = value
	if key == orders.TraceparentProperty {
		c[DiagnosticIDProperty] = value
	}
}

// Keys lists the string-valued properties.
func (c PropertiesCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k, v := range c {
		if _, ok := v.(string); ok {
			keys = append(keys, k)
		}
	}
	return keys
}

func tracer() trace.Tracer { return otel.Tracer(tracerName) }

// recording reports whether the process keeps spans; when it does not (no exporter),
// the spans here are started bare, for their context only, without attributes that
// would be built per message and dropped.
func recording() bool { return telemetry.Records(otel.GetTracerProvider()) }

// startSend starts the producer span of one send; its context is what the message
// carries, so the consumer's span is its child.
func startSend(ctx context.Context, destination, messageID string) (context.Context, trace.Span) {
	if !recording() {
		return tracer().Start(ctx, "send "+destination)
	}
	return tracer().Start(ctx, "send "+destination, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
		semconv.MessagingSystemServiceBus,
		semconv.MessagingOperationTypeSend,
		semconv.MessagingOperationName("send"),
		semconv.MessagingDestinationName(destination),
		semconv.MessagingMessageID(messageID),
	))
}

// StartProcess starts the consumer span for handling m, a child of the span that sent
// it (the trace context in its application properties), or a new trace when the
// message carries none. The caller ends it once the message is settled, and may
// report the outcome with EndProcess.
func StartProcess(ctx context.Context, m *Message) (context.Context, trace.Span) {
	ctx = propagator.Extract(ctx, PropertiesCarrier(m.Properties))
	if !recording() {
		return tracer().Start(ctx, "process")
	}
	attrs := []attribute.KeyValue{
		semconv.MessagingSystemServiceBus,
		semconv.MessagingOperationTypeProcess,
		semconv.MessagingOperationName("process"),
		semconv.MessagingDestinationName(m.Entity),
		semconv.MessagingMessageID(m.ID),
		semconv.MessagingServiceBusMessageDeliveryCount(int(m.DeliveryCount)),
	}
	if m.Subscription != "" {
		attrs = append(attrs, semconv.MessagingDestinationSubscriptionName(m.Subscription))
	}
	name := "process"
	if m.Entity != "" {
		name += " " + m.Entity
	}
	return tracer().Start(ctx, name, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
}

// EndProcess ends a span from StartProcess with how the message was settled
// ("complete", "abandon", "dead_letter", or "" when it was not settled) and the processing error, if any.
func EndProcess(span trace.Span, disposition string, err error) {
	if disposition != "" && span.IsRecording() {
		span.SetAttributes(semconv.MessagingServiceBusDispositionStatusKey.String(disposition))
	}
	endSpan(span, err)
}

// endSpan ends span, marking it failed when err is not nil.
func endSpan(span trace.Span, err error) {
	if err != nil {
		// Redacted like a log line: exported spans leave the cluster too.
		span.SetStatus(codes.Error, telemetry.Redact(err.Error()))
	}
	span.End()
}
