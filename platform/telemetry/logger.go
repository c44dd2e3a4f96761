// Package telemetry sets up structured logging and OpenTelemetry tracing.
//
// NewLogger returns a JSON slog logger whose every attribute passes through Redact, so a
// token, key or connection string that ends up in an error message or a field is
// masked before it is written; and whose records carry the trace and span ID of the
// OpenTelemetry span in the context they are logged with. Setup installs the
// propagator and TracerProvider (exporting over OTLP when configured), and
// AzureTracingProvider lets the Azure SDK clients' spans join the same traces.
package telemetry

import (
	"context"
	"io"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// NewLogger returns a JSON logger at level writing to w, tagged with the service name.
func NewLogger(w io.Writer, level slog.Level, service string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: ReplaceAttr})
	return slog.New(traceHandler{h}).With("service", service)
}

// ReplaceAttr masks secrets: the whole value of attributes whose key names a secret
// (token, key, password, connection string, authorization, signature), and the secret
// parts of any other string, error or stringer value (see Redact).
func ReplaceAttr(_ []string, a slog.Attr) slog.Attr {
	if sensitiveKey(a.Key) {
		if a.Value.Kind() == slog.KindString && a.Value.String() == "" {
			return a
		}
		return slog.String(a.Key, Redacted)
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); s != "" {
			if r := Redact(s); r != s {
				return slog.String(a.Key, r)
			}
		}
	case slog.KindAny:
		// Errors and Stringers are rendered as text by the handler anyway; render them
		// here so their text is scrubbed. Other values (structs, maps) are left to the
		// handler: log them only when they hold no secrets.
		switch v := a.Value.Any().(type) {
		case error:
			return slog.String(a.Key, Redact(v.Error()))
		case interface{ String() string }:
			return slog.String(a.Key, Redact(v.String()))
		case []byte:
			return slog.String(a.Key, Redact(string(v)))
		}
	}
	return a
}

// traceHandler adds trace_id and span_id to records logged with a context carrying an
// OpenTelemetry span, so a log line can be found from a trace and the other way round.
type traceHandler struct{ slog.Handler }

// Handle adds the trace attributes of ctx, if any, then delegates.
func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the trace handler around the derived handler.
func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as)}
}

// WithGroup keeps the trace handler around the derived handler.
func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
