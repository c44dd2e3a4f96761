package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpSpan is one span the receiver got, with the service that sent it.
type otlpSpan struct {
	service, scope, name string
	traceID, spanID      string
	parentSpanID         string
	kind                 tracepb.Span_SpanKind
	attrs                map[string]string
}

func (s otlpSpan) String() string {
	return fmt.Sprintf("%s/%s %q (%s) span %s parent %s", s.service, s.scope, s.name, s.kind, s.spanID, s.parentSpanID)
}

// otlpReceiver is an in-memory OpenTelemetry Collector: it accepts OTLP/HTTP protobuf
// exports on /v1/traces, as both services send them when OTEL_EXPORTER_OTLP_ENDPOINT
// points here.
type otlpReceiver struct {
	url string
	srv *http.Server

	mu    sync.Mutex
	spans []otlpSpan
	bad   []string // requests that were not valid exports
}

func startOTLPReceiver() (*otlpReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &otlpReceiver{url: "http://" + ln.Addr().String()}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 5 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *otlpReceiver) Close() { _ = r.srv.Close() }

func (r *otlpReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	var export coltracepb.ExportTraceServiceRequest
	if err == nil && (req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf") {
		err = fmt.Errorf("%s %s %s", req.Method, req.URL.Path, req.Header.Get("Content-Type"))
	}
	if err == nil {
		err = proto.Unmarshal(body, &export)
	}
	if err != nil {
		r.mu.Lock()
		r.bad = append(r.bad, err.Error())
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var got []otlpSpan
	for _, rs := range export.GetResourceSpans() {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				attrs := map[string]string{}
				for _, a := range s.GetAttributes() {
					v := a.GetValue()
					switch {
					case v.GetStringValue() != "":
						attrs[a.GetKey()] = v.GetStringValue()
					default:
						attrs[a.GetKey()] = fmt.Sprint(v.GetIntValue())
					}
				}
				got = append(got, otlpSpan{
					service: service, scope: ss.GetScope().GetName(), name: s.GetName(), kind: s.GetKind(),
					traceID: hex.EncodeToString(s.GetTraceId()), spanID: hex.EncodeToString(s.GetSpanId()),
					parentSpanID: hex.EncodeToString(s.GetParentSpanId()), attrs: attrs,
				})
			}
		}
	}
	r.mu.Lock()
	r.spans = append(r.spans, got...)
	r.mu.Unlock()
	b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(b)
}

// trace returns the spans of traceID received so far.
func (r *otlpReceiver) trace(traceID string) []otlpSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []otlpSpan
	for _, s := range r.spans {
		if s.traceID == traceID {
			out = append(out, s)
		}
	}
	return out
}

// spanCheck is one span the order's trace must hold.
type spanCheck struct {
	what string
	ok   func(otlpSpan) bool
}

// TestTraceFollowsOrderAcrossServices places an order with a traceparent and follows
// it to Completed over SSE; one trace, the caller's, then holds the spans of both
// services for every hop: the POST, the Cosmos write, the send to the orders queue,
// the backend's processing with its Blob or Key Vault call, the publish to the
// topic, the frontend's feed consumer and the SSE push.
func TestTraceFollowsOrderAcrossServices(t *testing.T) {
	requireStack(t)
	if env.otlp == nil {
		t.Skip("no OTLP receiver")
	}
	checks := []spanCheck{
		{"frontend POST /api/orders server span", func(s otlpSpan) bool {
			return s.service == "frontend" && s.name == "POST /api/orders" && s.kind == tracepb.Span_SPAN_KIND_SERVER && s.attrs["http.route"] == "/api/orders"
		}},
		{"frontend Cosmos write", func(s otlpSpan) bool {
			return s.service == "frontend" && s.attrs["db.system"] == "cosmosdb" && strings.HasPrefix(s.name, "create_item")
		}},
		{"frontend send to the orders queue", func(s otlpSpan) bool {
			return s.service == "frontend" && s.kind == tracepb.Span_SPAN_KIND_PRODUCER && s.attrs["messaging.system"] == "servicebus" && s.attrs["messaging.destination.name"] == "orders"
		}},
		{"backend consumer span", func(s otlpSpan) bool {
			return s.service == "backend" && s.kind == tracepb.Span_SPAN_KIND_CONSUMER && s.attrs["messaging.destination.name"] == "orders" && s.attrs["messaging.message.id"] != ""
		}},
		{"backend Blob or Key Vault call", func(s otlpSpan) bool {
			return s.service == "backend" && (strings.Contains(s.scope, "azblob") || strings.Contains(s.scope, "azsecrets") ||
				s.attrs["az.namespace"] == "Microsoft.Storage" || s.attrs["az.namespace"] == "Microsoft.KeyVault")
		}},
		{"backend publish to the topic", func(s otlpSpan) bool {
			return s.service == "backend" && s.kind == tracepb.Span_SPAN_KIND_PRODUCER && s.attrs["messaging.destination.name"] == "order-events"
		}},
		{"frontend event feed consumer span", func(s otlpSpan) bool {
			return s.service == "frontend" && s.kind == tracepb.Span_SPAN_KIND_CONSUMER && s.attrs["messaging.destination.name"] == "order-events"
		}},
		{"frontend SSE push", func(s otlpSpan) bool {
			return s.service == "frontend" && s.name == "sse.push" && s.attrs["orderflow.order.status"] == "Completed"
		}},
	}
	customer := fmt.Sprintf("e2e-trace-%d", time.Now().UnixNano())
	// The push is a span only when Completed reaches the open stream through the
	// topic; should the backend finish before the stream subscribes, the stream
	// reads Completed from the store instead. A few orders make that race harmless.
	var spans []otlpSpan
	var missing []string
	for attempt := range 3 {
		traceID := randomHex(16)
		spans, missing = placeTracedOrder(t, customer, attempt, traceID, checks)
		if len(missing) == 0 {
			// The trace really is the caller's: every span is in it, each one's parent
			// is in it too (or is the caller's span), so it is one tree.
			ids := map[string]bool{}
			for _, s := range spans {
				ids[s.spanID] = true
			}
			for _, s := range spans {
				if s.parentSpanID != callerSpanID && !ids[s.parentSpanID] {
					t.Errorf("span %v has a parent outside the trace", s)
				}
			}
			return
		}
		if t.Failed() {
			return
		}
		t.Logf("attempt %d: trace %s lacks %v", attempt, traceID, missing)
	}
	env.otlp.mu.Lock()
	bad := env.otlp.bad
	env.otlp.mu.Unlock()
	sort.Slice(spans, func(i, j int) bool { return spans[i].service+spans[i].name < spans[j].service+spans[j].name })
	t.Errorf("the order's trace lacks %v; it holds:\n%s\n(bad exports: %v)", missing, joinSpans(spans), bad)
}

// callerSpanID is the span ID of the traceparent the test sends.
const callerSpanID = "00f067aa0ba902b7"

func placeTracedOrder(t *testing.T, customer string, i int, traceID string, checks []spanCheck) ([]otlpSpan, []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	body := fmt.Sprintf(`{"customerId":%q,"items":[{"productId":"mug-ceramic","quantity":%d}]}`, customer, i+1)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, env.frontendURL+"/api/orders", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-"+callerSpanID+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %d %s", resp.StatusCode, b)
	}
	var o order
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatal(err)
	}
	completed := false
	for st := range watchStatus(ctx, t, o.ID) {
		if st == "Completed" {
			completed = true
			break
		}
		if st == "Failed" {
			break
		}
	}
	if !completed {
		t.Fatalf("order %s did not complete", o.ID)
	}
	// Both services export every 200 ms (OTEL_BSP_SCHEDULE_DELAY); allow for slow runs.
	var spans []otlpSpan
	var missing []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		spans, missing = env.otlp.trace(traceID), nil
		for _, c := range checks {
			found := false
			for _, s := range spans {
				if c.ok(s) {
					found = true
					break
				}
			}
			if !found {
				missing = append(missing, c.what)
			}
		}
		if len(missing) == 0 {
			break
		}
	}
	return spans, missing
}

func joinSpans(spans []otlpSpan) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "  %v %v\n", s, s.attrs)
	}
	return b.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
