package cosmosemu

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzHandler drives the whole handler with arbitrary bodies, paths and headers on
// correctly signed requests: whatever arrives, the answer is a well-formed Cosmos
// response and never a panic or a 5xx.
func FuzzHandler(f *testing.F) {
	s, err := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Databases: []Database{{ID: "db", Containers: []Container{{"c", "/pk"}}}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	seeds := []struct {
		method, path, body, pk, kind string
	}{
		{"POST", "/dbs/db/colls/c/docs", `{"id":"1","pk":"a","n":1}`, `["a"]`, ""},
		{"POST", "/dbs/db/colls/c/docs", `{"id":"1","pk":"a"}`, `["a"]`, "upsert"},
		{"POST", "/dbs/db/colls/c/docs", `{"query":"SELECT * FROM c WHERE c.n > @n","parameters":[{"name":"@n","value":0}]}`, ``, "query"},
		{"POST", "/dbs/db/colls/c/docs", `[{"operationType":"Create","resourceBody":{"id":"2","pk":"a"}},{"operationType":"Patch","id":"1","resourceBody":{"operations":[{"op":"incr","path":"/n","value":1}]}}]`, `["a"]`, "batch"},
		{"PATCH", "/dbs/db/colls/c/docs/1", `{"operations":[{"op":"move","from":"/n","path":"/m/0"}],"condition":"FROM c WHERE c.n = 1"}`, `["a"]`, ""},
		{"PUT", "/dbs/db/colls/c/docs/1", `{"id":"1","pk":"a","ttl":5}`, `["a"]`, ""},
		{"GET", "/dbs/db/colls/c/docs", ``, ``, "feed"},
		{"POST", "/dbs/db/colls", `{"id":"x","partitionKey":{"paths":["/a/b"],"kind":"MultiHash"}}`, ``, ""},
	}
	for _, sd := range seeds {
		f.Add(sd.method, sd.path, sd.body, sd.pk, sd.kind)
	}
	f.Fuzz(func(t *testing.T, method, path, body, pk, kind string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " ?#\r\n\t") || len(path) > 200 {
			return
		}
		if _, err := url.ParseRequestURI(path); err != nil {
			return // not a request line any client could send
		}
		switch method {
		case "GET", "POST", "PUT", "PATCH", "DELETE":
		default:
			return
		}
		if strings.ContainsAny(pk, "\r\n") {
			return
		}
		extra := map[string]string{}
		switch kind {
		case "upsert":
			extra["x-ms-documentdb-is-upsert"] = "True"
		case "query":
			extra["Content-Type"] = "application/query+json"
			extra["x-ms-max-item-count"] = "2"
		case "batch":
			extra["x-ms-cosmos-is-batch-request"] = "True"
		case "feed":
			extra["A-IM"] = "Incremental feed"
		}
		req := signed(method, path, []byte(body), pk, extra)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body)
		}
		// Looked up by the exact lowercase names the gateway sends (not Get, which
		// canonicalises).
		if firstValue(rec.Header(), "x-ms-activity-id") == "" || firstValue(rec.Header(), "x-ms-request-charge") == "" {
			t.Fatalf("missing headers on %d", rec.Code)
		}
	})
}
