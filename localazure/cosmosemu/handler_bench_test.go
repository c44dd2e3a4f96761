package cosmosemu

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Handler-only benchmarks: the server's own CPU per request, without TLS, the
// network or the SDK, to see where the stand-in spends its share.
func benchHandler(b *testing.B, method, path string, body func(i int) []byte, pk func(i int) string, extra map[string]string) {
	s, err := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Databases: []Database{{ID: "orderflow", Containers: []Container{{"orders", "/customerId"}}}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	for k := 0; k < 100; k++ {
		doc := fmt.Sprintf(`{"id":"o%d","customerId":"c%d","total":%d}`, k, k%10, k)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, signed("POST", "/dbs/orderflow/colls/orders/docs", []byte(doc), fmt.Sprintf(`["c%d"]`, k%10), nil))
		if rec.Code != 201 {
			b.Fatalf("seed: %d %s", rec.Code, rec.Body)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var bd []byte
		if body != nil {
			bd = body(i)
		}
		p := path
		if strings.Contains(p, "%d") {
			p = fmt.Sprintf(path, i%100)
		}
		req := signed(method, p, bd, pk(i), extra)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 300 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

func signed(method, path string, body []byte, pk string, extra map[string]string) *http.Request {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-documentdb-partitionkey", pk)
	segs, _ := splitPath(path)
	typ, link := resourceOf(segs)
	req.Header.Set("Authorization", masterAuth(EmulatorKey, method, typ, link, date))
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	return req
}

func BenchmarkHandlerRead(b *testing.B) {
	benchHandler(b, "GET", "/dbs/orderflow/colls/orders/docs/o%d", nil,
		func(i int) string { return fmt.Sprintf(`["c%d"]`, (i%100)%10) }, nil)
}

func BenchmarkHandlerUpsert(b *testing.B) {
	benchHandler(b, "POST", "/dbs/orderflow/colls/orders/docs",
		func(i int) []byte {
			return []byte(fmt.Sprintf(`{"id":"o%d","customerId":"c%d","total":%d,"status":"paid","lines":[{"sku":"a","qty":1},{"sku":"b","qty":2}]}`, i%1000, (i%1000)%10, i))
		},
		func(i int) string { return fmt.Sprintf(`["c%d"]`, (i%1000)%10) },
		map[string]string{"x-ms-documentdb-is-upsert": "True", "Prefer": "return=minimal"})
}
