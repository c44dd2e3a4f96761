package azure

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

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

func TestBlobSpanPolicyOnlyWhenKept(t *testing.T) {
	prev := otel.GetTracerProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prev) })
	perCall := []policy.Policy{newMetricsPolicy(nil, "blob", blobOperation)}

	otel.SetTracerProvider(telemetry.PropagatingProvider())
	if got := blobPolicies(perCall); len(got) != 1 {
		t.Errorf("propagate-only: %d blob policies, want only the metrics one", len(got))
	}
	otel.SetTracerProvider(sdktrace.NewTracerProvider())
	got := blobPolicies(perCall)
	if len(got) != 2 {
		t.Fatalf("exporting: %d blob policies, want the span policy and the metrics one", len(got))
	}
	if _, ok := got[0].(blobTracePolicy); !ok {
		t.Errorf("exporting: the first blob policy is %T, want blobTracePolicy", got[0])
	}
}
