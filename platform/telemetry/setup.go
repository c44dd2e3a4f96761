package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/contoso/orderflow/platform/config"
)

// Setup installs the process's tracing: the W3C TraceContext propagator always (so
// an incoming traceparent is continued and logs carry its IDs even when nothing is
// exported), and a TracerProvider named after service. Spans are exported over
// OTLP/HTTP through a batch processor only when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; otherwise the provider records nothing
// and only carries trace context on (propagatingProvider: a continued traceparent,
// trace IDs in the logs, the parent's sampling flag kept downstream), so that tracing
// without an exporter costs next to nothing.
//
// Setup reads only the endpoint variables through getenv; the SDK reads the other
// standard ones it supports (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*,
// OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS, …) from the process environment.
// platform/config lists those the deployment is expected to set.
//
// The returned shutdown flushes pending spans; call it last, after the work that
// makes spans has stopped.
func Setup(ctx context.Context, service string, getenv func(string) string) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.TraceContext{})

	endpoint, err := tracesEndpoint(getenv)
	if err != nil {
		return nil, err
	}
	// service.name first, so OTEL_SERVICE_NAME (read by WithFromEnv) overrides it.
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(service)),
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		// A malformed OTEL_RESOURCE_ATTRIBUTES must not stop the service: tracing is
		// an aid, and what could be parsed is kept.
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	if endpoint == "" {
		otel.SetTracerProvider(propagatingProvider{})
		return func(context.Context) error { return nil }, nil
	}
	// The URL is passed explicitly so getenv is the one source of the decision;
	// headers, timeout, compression and the batch settings still come from the
	// standard variables.
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("otlp trace exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(exp))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// tracesEndpoint returns the URL spans are posted to, or "" to export nothing. As
// the OTLP exporter specification says, the signal-specific variable is used as is,
// and the generic one is a base URL to which /v1/traces is appended.
func tracesEndpoint(getenv func(string) string) (string, error) {
	name, raw := config.EnvOTLPTracesEndpoint, strings.TrimSpace(getenv(config.EnvOTLPTracesEndpoint))
	if raw == "" {
		name, raw = config.EnvOTLPEndpoint, strings.TrimSpace(getenv(config.EnvOTLPEndpoint))
		if raw == "" {
			return "", nil
		}
		raw = strings.TrimSuffix(raw, "/") + "/v1/traces"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s is %q, which is not an http(s) URL: set it to the collector's OTLP/HTTP address, e.g. http://otel-collector:4318", name, getenv(name))
	}
	return raw, nil
}

// LogErrors sends the SDK's own errors (an unreachable collector, a full queue) to
// log as warnings, so they keep the JSON log shape instead of the SDK's plain
// stderr lines.
func LogErrors(log *slog.Logger) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("opentelemetry", "err", err)
	}))
}
