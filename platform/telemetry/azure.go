package telemetry

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// AzureTracingProvider adapts an OpenTelemetry TracerProvider to the Azure SDK's
// tracing hooks (azcore.ClientOptions.TracingProvider), so the spans the Cosmos,
// Blob and Key Vault clients start (one per operation, one per HTTP try) are children
// of the caller's span. The SDK's own adapter (sdk/tracing/azotel) is not on the
// module proxy this project builds from, and the hooks are small enough to bridge
// here.
func AzureTracingProvider(tp trace.TracerProvider) tracing.Provider {
	return tracing.NewProvider(func(module, version string) tracing.Tracer {
		t := tp.Tracer(module, trace.WithInstrumentationVersion(version))
		return tracing.NewTracer(func(ctx context.Context, name string, o *tracing.SpanOptions) (context.Context, tracing.Span) {
			var opts []trace.SpanStartOption
			if o != nil {
				opts = append(opts, trace.WithSpanKind(spanKind(o.Kind)), trace.WithAttributes(attributes(o.Attributes)...))
			}
			ctx, span := t.Start(ctx, name, opts...)
			return ctx, azureSpan(span)
		}, &tracing.TracerOptions{SpanFromContext: func(ctx context.Context) tracing.Span {
			return azureSpan(trace.SpanFromContext(ctx))
		}})
	}, nil)
}

func azureSpan(span trace.Span) tracing.Span {
	return tracing.NewSpan(tracing.SpanImpl{
		End:           func() { span.End() },
		SetAttributes: func(as ...tracing.Attribute) { span.SetAttributes(attributes(as)...) },
		AddEvent: func(name string, as ...tracing.Attribute) {
			span.AddEvent(name, trace.WithAttributes(attributes(as)...))
		},
		SetStatus: func(s tracing.SpanStatus, desc string) {
			switch s {
			case tracing.SpanStatusError:
				span.SetStatus(codes.Error, desc)
			case tracing.SpanStatusOK:
				span.SetStatus(codes.Ok, desc)
			}
		},
	})
}

func spanKind(k tracing.SpanKind) trace.SpanKind {
	switch k {
	case tracing.SpanKindServer:
		return trace.SpanKindServer
	case tracing.SpanKindClient:
		return trace.SpanKindClient
	case tracing.SpanKindProducer:
		return trace.SpanKindProducer
	case tracing.SpanKindConsumer:
		return trace.SpanKindConsumer
	default:
		return trace.SpanKindInternal
	}
}

// attributes converts the SDK's untyped attributes; the types it uses are strings,
// integers and booleans, and anything else is kept as text rather than dropped.
func attributes(as []tracing.Attribute) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(as))
	for _, a := range as {
		switch v := a.Value.(type) {
		case string:
			out = append(out, attribute.String(a.Key, v))
		case int:
			out = append(out, attribute.Int(a.Key, v))
		case int32:
			out = append(out, attribute.Int64(a.Key, int64(v)))
		case int64:
			out = append(out, attribute.Int64(a.Key, v))
		case float64:
			out = append(out, attribute.Float64(a.Key, v))
		case bool:
			out = append(out, attribute.Bool(a.Key, v))
		case []string:
			out = append(out, attribute.StringSlice(a.Key, v))
		default:
			out = append(out, attribute.String(a.Key, fmt.Sprint(v)))
		}
	}
	return out
}
