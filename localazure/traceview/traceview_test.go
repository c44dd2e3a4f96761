package traceview_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/contoso/orderflow/localazure/authz"
	"github.com/contoso/orderflow/localazure/traceview"
)

// export sends spans of one service through the real OpenTelemetry OTLP/HTTP
// exporter, as an instrumented workload does.
func export(t *testing.T, endpoint, service string, compress bool, spans func(trace.Tracer)) {
	t.Helper()
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(endpoint + "/v1/traces")}
	if compress {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	}
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := resource.New(context.Background(), resource.WithAttributes(attribute.String("service.name", service)))
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSyncer(exp))
	spans(tp.Tracer("test"))
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTracesFromTwoServicesFormOneTimeline(t *testing.T) {
	st := traceview.NewStore(10, 100)
	srv := httptest.NewServer(traceview.Handler(st, authz.NewAccessLog(10, nil, nil)))
	defer srv.Close()

	var parent trace.SpanContext
	export(t, srv.URL, "frontend", false, func(tr trace.Tracer) {
		ctx, root := tr.Start(context.Background(), "POST /api/orders", trace.WithSpanKind(trace.SpanKindServer))
		_, send := tr.Start(ctx, "send orders", trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(attribute.String("messaging.destination.name", "orders")))
		parent = send.SpanContext()
		send.End()
		root.End()
	})
	export(t, srv.URL, "backend", true, func(tr trace.Tracer) {
		ctx := trace.ContextWithRemoteSpanContext(context.Background(), parent)
		_, proc := tr.Start(ctx, "process orders", trace.WithSpanKind(trace.SpanKindConsumer))
		proc.SetStatus(codes.Error, "lock lost")
		proc.End()
	})

	var list []traceview.TraceSummary
	getJSON(t, srv.URL+"/api/traces", &list)
	if len(list) != 1 || list[0].Spans != 3 || strings.Join(list[0].Services, ",") != "backend,frontend" ||
		list[0].Root != "POST /api/orders" || list[0].Errors != 1 || list[0].TraceID != parent.TraceID().String() {
		t.Fatalf("traces = %+v", list)
	}
	var spans []traceview.Span
	getJSON(t, srv.URL+"/api/traces/"+list[0].TraceID, &spans)
	if len(spans) != 3 || spans[0].Name != "POST /api/orders" || spans[0].Kind != "server" {
		t.Fatalf("spans = %+v", spans)
	}
	last := spans[2]
	if last.Service != "backend" || last.ParentID != parent.SpanID().String() || last.Kind != "consumer" || !last.Error {
		t.Errorf("backend span = %+v", last)
	}
	if spans[1].Attributes["messaging.destination.name"] != "orders" {
		t.Errorf("producer span attributes = %v", spans[1].Attributes)
	}
	if resp, _ := http.Get(srv.URL + "/api/traces/0123"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown trace: %d", resp.StatusCode)
	}
}

func TestReceiverRefusesWhatIsNotOTLPProtobuf(t *testing.T) {
	st := traceview.NewStore(10, 100)
	srv := httptest.NewServer(traceview.Handler(st, authz.NewAccessLog(10, nil, nil)))
	defer srv.Close()
	resp, _ := http.Post(srv.URL+"/v1/traces", "application/json", strings.NewReader(`{}`))
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("JSON: %d, want 415", resp.StatusCode)
	}
	resp, _ = http.Post(srv.URL+"/v1/traces", "application/x-protobuf", strings.NewReader("\xff\xff\xff"))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("garbage: %d, want 400", resp.StatusCode)
	}
	// An empty request is valid and answered with an ExportTraceServiceResponse.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	b, _ := proto.Marshal(&collectorpb.ExportTraceServiceRequest{})
	zw.Write(b)
	zw.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/traces", &buf)
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-protobuf" {
		t.Fatalf("empty export: %v %v", err, resp)
	}
	var out collectorpb.ExportTraceServiceResponse
	body, _ := io.ReadAll(resp.Body)
	if err := proto.Unmarshal(body, &out); err != nil {
		t.Errorf("response is not an ExportTraceServiceResponse: %v", err)
	}
}

func TestStoreForgetsTheOldestTrace(t *testing.T) {
	st := traceview.NewStore(2, 100)
	srv := httptest.NewServer(traceview.Handler(st, authz.NewAccessLog(10, nil, nil)))
	defer srv.Close()
	var ids []string
	for range 3 {
		export(t, srv.URL, "frontend", false, func(tr trace.Tracer) {
			_, s := tr.Start(context.Background(), "GET /")
			ids = append(ids, s.SpanContext().TraceID().String())
			s.End()
		})
	}
	if st.Trace(ids[0]) != nil || st.Trace(ids[2]) == nil || len(st.Recent()) != 2 {
		t.Fatalf("kept %+v", st.Recent())
	}
}

func TestAccessAndPage(t *testing.T) {
	access := authz.NewAccessLog(10, nil, map[string]string{"oid-f": "frontend"})
	access.Record(authz.Access{PrincipalID: "oid-f", Service: "blob", Decision: authz.Denied, Resource: "storage/receipts"})
	access.Record(authz.Access{PrincipalID: "oid-f", Service: "cosmos", Decision: authz.Allowed})
	srv := httptest.NewServer(traceview.Handler(traceview.NewStore(1, 1), access))
	defer srv.Close()
	var denied []authz.Access
	getJSON(t, srv.URL+"/api/access?decision=denied&workload=frontend", &denied)
	if len(denied) != 1 || denied[0].Service != "blob" {
		t.Fatalf("denied = %+v", denied)
	}
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`id="trace-list"`, `id="access-rows"`, `src="view.js"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if r, _ := http.Get(srv.URL + "/view.js"); r.StatusCode != http.StatusOK {
		t.Errorf("view.js: %d", r.StatusCode)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
