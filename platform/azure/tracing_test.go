package azure

import (
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/contoso/orderflow/platform/telemetry"
)

// TestSDKSpansOnlyWhenKept: the HTTP clients get the SDK tracing hook only when the
// process's provider keeps spans; with the propagate-only one (no exporter) the SDKs
// would start and fill two spans per call for nothing.
func TestSDKSpansOnlyWhenKept(t *testing.T) {
	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	otel.SetTracerProvider(telemetry.PropagatingProvider())
	if tracingProvider().NewTracer("azcosmos", "v1").Enabled() {
		t.Error("propagate-only: the SDK clients still get a tracer")
	}
	otel.SetTracerProvider(sdktrace.NewTracerProvider())
	if !tracingProvider().NewTracer("azcosmos", "v1").Enabled() {
		t.Error("exporting: the SDK clients get no tracer")
	}
}
