package traceview

import (
	"compress/gzip"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/contoso/orderflow/localazure/authz"
)

//go:embed page
var page embed.FS

// maxExport bounds one OTLP request body (the exporters batch 512 spans by default,
// well under this).
const maxExport = 16 << 20

// Handler serves POST /v1/traces (OTLP/HTTP, protobuf), the page at /, and its data:
// GET /api/traces, /api/traces/{id}, /api/access.
func Handler(st *Store, access *authz.AccessLog) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) { receive(st, w, r) })
	mux.HandleFunc("GET /api/traces", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, st.Recent()) })
	mux.HandleFunc("GET /api/traces/{id}", func(w http.ResponseWriter, r *http.Request) {
		spans := st.Trace(strings.ToLower(r.PathValue("id")))
		if spans == nil {
			http.Error(w, "no such trace among the recent ones", http.StatusNotFound)
			return
		}
		writeJSON(w, spans)
	})
	mux.HandleFunc("GET /api/access", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		out := []authz.Access{}
		for _, a := range access.Recent() {
			if match(q.Get("workload"), a.Workload) && match(q.Get("service"), a.Service) && match(q.Get("decision"), a.Decision) {
				out = append(out, a)
			}
		}
		writeJSON(w, out)
	})
	mux.Handle("GET /", http.FileServerFS(mustSub(page, "page")))
	return mux
}

func match(want, got string) bool { return want == "" || strings.EqualFold(want, got) }

// receive decodes an OTLP/HTTP export. As the OTLP specification asks, a malformed
// request gets 400 and an unsupported encoding 415; the success answer is an
// ExportTraceServiceResponse in the request's encoding.
func receive(st *Store, w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-protobuf") {
		http.Error(w, fmt.Sprintf("content type %q: send OTLP/HTTP protobuf (application/x-protobuf)", ct), http.StatusUnsupportedMediaType)
		return
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, maxExport)
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, "gzip: "+err.Error(), http.StatusBadRequest)
			return
		}
		defer zr.Close()
		body = io.LimitReader(zr, maxExport)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req collectorpb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, "not an OTLP ExportTraceServiceRequest: "+err.Error(), http.StatusBadRequest)
		return
	}
	st.Add(req.GetResourceSpans())
	out, _ := proto.Marshal(&collectorpb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}
