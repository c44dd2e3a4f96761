package azure

import (
	"net/http"
	"strconv"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// blobTracePolicy makes one client span per Blob Storage operation. azblob (v1.8)
// starts no spans of its own, and azcore's HTTP span policy only runs under an
// operation span, so without this the receipts and attachments would be missing
// from the traces. Per call, not per retry: a retried upload is one operation.
type blobTracePolicy struct{ tracer trace.Tracer }

func newBlobTracePolicy() policy.Policy {
	return blobTracePolicy{tracer: otel.Tracer("github.com/contoso/orderflow/platform/azure")}
}

func (p blobTracePolicy) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	// The path (container/blob name) is an attribute, not the name: names stay few.
	ctx, span := p.tracer.Start(raw.Context(), "Blob "+raw.Method, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("az.namespace", "Microsoft.Storage"),
		semconv.HTTPRequestMethodKey.String(raw.Method),
		semconv.ServerAddress(raw.URL.Hostname()),
		semconv.URLPath(raw.URL.Path),
	))
	defer span.End()
	resp, err := req.WithContext(ctx).Next()
	switch {
	case err != nil:
		span.SetStatus(codes.Error, err.Error())
	case resp.StatusCode >= 400 && resp.StatusCode != http.StatusNotFound:
		// 404 is an answer here (a receipt not issued yet), not a failure.
		span.SetStatus(codes.Error, strconv.Itoa(resp.StatusCode))
	}
	if resp != nil {
		span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	}
	return resp, err
}
