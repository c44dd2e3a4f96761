package cosmosemu

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Memory and index benchmarks (issue 14): the steady-state heap an item costs, as
// measured after GC, against the size of its JSON; and how a cross-partition
// query by id or a query on the partition key compares with a point read.

// orderDoc is a realistic small order; pad lengthens the notes to vary the size.
func orderDoc(i, customers int, pad string) []byte {
	return []byte(fmt.Sprintf(`{"id":"o%07d","customerId":"c%05d","status":"paid","createdAt":"2024-05-01T12:%02d:%02d.000Z",`+
		`"currency":"EUR","total":%d.95,"shipping":{"name":"Ada Lovelace","street":"12 Analytical Way","city":"London","zip":"N1 9GU","country":"GB"},`+
		`"lines":[{"sku":"SKU-1001","name":"Widget","qty":2,"price":19.99},{"sku":"SKU-2002","name":"Gadget","qty":1,"price":%d.47}],"notes":"%s"}`,
		i, i%customers, i%60, i%60, 10+i%500, i%90, pad))
}

func quietServer(tb testing.TB, dataDir string) *Server {
	tb.Helper()
	s, err := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DataDir: dataDir,
		Databases: []Database{{ID: "orderflow", Containers: []Container{{"orders", "/customerId"}}}}})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// fill creates n orders over customers partitions with g writers and returns the
// bytes the clients sent and the bytes of the stored items as served.
func fill(tb testing.TB, s *Server, n, customers, g int, pad string) (sent, stored int64) {
	tb.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failed error
	per := (n + g - 1) / g
	for w := 0; w < g; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var a, b int64
			for i := w * per; i < min(n, (w+1)*per); i++ {
				doc := orderDoc(i, customers, pad)
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, signed("POST", "/dbs/orderflow/colls/orders/docs", doc, fmt.Sprintf(`["c%05d"]`, i%customers), nil))
				if rec.Code != 201 {
					mu.Lock()
					failed = fmt.Errorf("create %d: %d %s", i, rec.Code, rec.Body)
					mu.Unlock()
					return
				}
				a += int64(len(doc))
				b += int64(rec.Body.Len())
			}
			mu.Lock()
			sent, stored = sent+a, stored+b
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	if failed != nil {
		tb.Fatal(failed)
	}
	return sent, stored
}

func heapAfterGC() uint64 {
	var ms runtime.MemStats
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

var crossHeaders = map[string]string{"Content-Type": "application/query+json", "x-ms-documentdb-isquery": "True",
	"x-ms-documentdb-query-enablecrosspartition": "True", "x-ms-max-item-count": "-1"}

// runQuery executes a query through the handler; pk "" makes it cross-partition.
func runQuery(tb testing.TB, s *Server, text string, pk string, params ...any) []byte {
	type param struct {
		Name  string `json:"name"`
		Value any    `json:"value"`
	}
	qb := struct {
		Query      string  `json:"query"`
		Parameters []param `json:"parameters"`
	}{Query: text}
	for i := 0; i+1 < len(params); i += 2 {
		qb.Parameters = append(qb.Parameters, param{params[i].(string), params[i+1]})
	}
	body, _ := json.Marshal(qb)
	req := signed("POST", "/dbs/orderflow/colls/orders/docs", body, pk, crossHeaders)
	if pk == "" {
		req.Header.Del("x-ms-documentdb-partitionkey")
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 200 {
		tb.Fatalf("query %q: %d %s", text, rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

// warmQueries runs the queries that touch every item (a filter and a sort), as
// an application's tests would, so that anything a query keeps is counted.
func warmQueries(tb testing.TB, s *Server) {
	runQuery(tb, s, "SELECT VALUE COUNT(1) FROM c WHERE c.status = 'paid'", "")
	runQuery(tb, s, "SELECT TOP 1 c.id FROM c ORDER BY c.total DESC", "")
}

// BenchmarkItemMemory reports the heap each stored item costs after GC (after
// queries have touched every item), and its ratio to the item's JSON as served
// (system properties included) and as the client sent it.
func BenchmarkItemMemory(b *testing.B) {
	for _, sz := range []struct {
		name string
		pad  string
	}{{"sent=~430B", "leave at the door"}, {"sent=~610B", fmt.Sprintf("%0200d", 0)}} {
		pad := sz.pad
		b.Run(sz.name, func(b *testing.B) {
			const n = 100_000
			for range b.N {
				h0 := heapAfterGC()
				s := quietServer(b, "")
				sent, stored := fill(b, s, n, 10_000, 4, pad)
				warmQueries(b, s)
				h1 := heapAfterGC()
				per := float64(h1-h0) / n
				b.ReportMetric(per, "heap-B/item")
				b.ReportMetric(float64(stored)/n, "json-B/item")
				b.ReportMetric(float64(sent)/n, "sent-B/item")
				b.ReportMetric(per/(float64(stored)/n), "heap/json")
				b.ReportMetric(per/(float64(sent)/n), "heap/sent")
				runtime.KeepAlive(s)
				_ = s.Close()
			}
		})
	}
}

// BenchmarkRestoredItemMemory is BenchmarkItemMemory for a server restored from
// its data directory (snapshot and journal): restore must not inflate items.
func BenchmarkRestoredItemMemory(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	s := quietServer(b, dir)
	_, stored := fill(b, s, n/2, 10_000, 32, "leave at the door")
	if err := s.persist.checkpoint(); err != nil { // half in the snapshot, half in the journal
		b.Fatal(err)
	}
	_, stored2 := fill2(b, s, n/2, n, 10_000, 32)
	stored += stored2
	// Simulate a crash (no final checkpoint) so the restore replays the journal.
	s.persist.j.close()
	b.ResetTimer()
	for range b.N {
		h0 := heapAfterGC()
		r := quietServer(b, dir)
		h1 := heapAfterGC()
		warmQueries(b, r)
		h2 := heapAfterGC()
		per := float64(h1-h0) / n
		b.ReportMetric(per, "restored-heap-B/item")
		b.ReportMetric(float64(h2-h0)/n, "after-query-heap-B/item")
		b.ReportMetric(per/(float64(stored)/n), "heap/json")
		runtime.KeepAlive(r)
		// Close writes a final checkpoint; the next iteration restores the same items.
		_ = r.Close()
	}
}

// fill2 creates the items from..to (the second half of a fill).
func fill2(tb testing.TB, s *Server, from, to, customers, g int) (sent, stored int64) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan int)
	go func() {
		for i := from; i < to; i++ {
			next <- i
		}
		close(next)
	}()
	for w := 0; w < g; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				doc := orderDoc(i, customers, "leave at the door")
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, signed("POST", "/dbs/orderflow/colls/orders/docs", doc, fmt.Sprintf(`["c%05d"]`, i%customers), nil))
				if rec.Code != 201 {
					tb.Errorf("create %d: %d %s", i, rec.Code, rec.Body)
					return
				}
				mu.Lock()
				sent, stored = sent+int64(len(doc)), stored+int64(rec.Body.Len())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return sent, stored
}

var (
	queryFixtureOnce sync.Once
	queryFixture     *Server
)

// fixture100k is a server holding 100k orders over 10k customer partitions.
func fixture100k(b *testing.B) *Server {
	queryFixtureOnce.Do(func() {
		queryFixture = quietServer(b, "")
		fill(b, queryFixture, 100_000, 10_000, 4, "leave at the door")
	})
	return queryFixture
}

// BenchmarkIDQueryVsPointRead alternates, in one run, a point read and a
// cross-partition "SELECT * FROM c WHERE c.id = @id" of the same item among
// 100k, and reports both latencies and their ratio (the handler only: no TLS, no
// SDK, the same request signing for both).
func BenchmarkIDQueryVsPointRead(b *testing.B) {
	s := fixture100k(b)
	for _, q := range []string{
		"SELECT * FROM c WHERE c.id = @id",
		"SELECT * FROM c WHERE c.id = @id AND c.status = 'paid'",
	} {
		b.Run(q, func(b *testing.B) {
			var readT, queryT time.Duration
			b.ResetTimer()
			for i := range b.N {
				k := (i * 7919) % 100_000
				id := fmt.Sprintf("o%07d", k)
				t0 := time.Now()
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, signed("GET", "/dbs/orderflow/colls/orders/docs/"+id, nil, fmt.Sprintf(`["c%05d"]`, k%10_000), nil))
				if rec.Code != 200 {
					b.Fatalf("read: %d", rec.Code)
				}
				t1 := time.Now()
				out := runQuery(b, s, q, "", "@id", id)
				t2 := time.Now()
				if i == 0 {
					var page struct{ Documents []map[string]any }
					if err := json.Unmarshal(out, &page); err != nil || len(page.Documents) != 1 || page.Documents[0]["id"] != id {
						b.Fatalf("query result: %s", out)
					}
				}
				readT += t1.Sub(t0)
				queryT += t2.Sub(t1)
			}
			b.StopTimer()
			b.ReportMetric(float64(readT.Nanoseconds())/float64(b.N), "point-read-ns")
			b.ReportMetric(float64(queryT.Nanoseconds())/float64(b.N), "id-query-ns")
			b.ReportMetric(float64(queryT)/float64(readT), "query/read")
		})
	}
}

// BenchmarkQuery100k times queries over the 100k items: on the partition key
// (without the header), and a filter no index serves (every item is evaluated).
func BenchmarkQuery100k(b *testing.B) {
	s := fixture100k(b)
	b.Run("partition-key-equality", func(b *testing.B) {
		for i := range b.N {
			runQuery(b, s, "SELECT * FROM c WHERE c.customerId = @c", "", "@c", fmt.Sprintf("c%05d", (i*31)%10_000))
		}
	})
	b.Run("full-scan", func(b *testing.B) {
		for range b.N {
			runQuery(b, s, "SELECT * FROM c WHERE c.status = 'paid' AND c.total > 100000", "")
		}
	})
}
