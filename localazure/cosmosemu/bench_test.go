package cosmosemu

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

// stubHandler is the do-nothing ceiling: the same TLS and client, but the server
// answers every request with a canned response and does no work.
func stubHandler(endpoint *string) http.Handler {
	doc := []byte(`{"id":"o1","customerId":"c1","total":12.5,"status":"paid","_rid":"AAAAAA==","_self":"dbs/x/colls/y/docs/z/","_etag":"\"00000000-0000-0000-0000-000000000001\"","_attachments":"attachments/","_ts":1700000000}`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["X-Ms-Request-Charge"] = []string{"1"}
		h["X-Ms-Activity-Id"] = []string{"00000000-0000-0000-0000-000000000000"}
		h["Etag"] = []string{`"00000000-0000-0000-0000-000000000001"`}
		switch {
		case r.URL.Path == "/":
			_, _ = fmt.Fprintf(w, `{"writableLocations":[{"name":"x","databaseAccountEndpoint":%q}],"readableLocations":[{"name":"x","databaseAccountEndpoint":%q}],"userConsistencyPolicy":{"defaultConsistencyLevel":"Session"}}`, *endpoint, *endpoint)
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(doc)
		default:
			_, _ = w.Write(doc)
		}
	})
}

// workload runs n operations spread over g goroutines and returns the elapsed time
// and the latencies.
func workload(b *testing.B, n, g int, op func(i int) error) (time.Duration, []time.Duration) {
	lat := make([][]time.Duration, g)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for w := 0; w < g; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := op(i); err != nil {
					failed.Store(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}(w)
	}
	wg.Wait()
	el := time.Since(start)
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	return el, all
}

func p99(lat []time.Duration) time.Duration {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)*99/100]
}

type benchOp func(cc *azcosmos.ContainerClient) func(i int) error

func readOp(cc *azcosmos.ContainerClient) func(int) error {
	return func(i int) error {
		k := i % 100
		_, err := cc.ReadItem(ctx(), azcosmos.NewPartitionKeyString(fmt.Sprintf("c%d", k%10)), fmt.Sprintf("o%d", k), nil)
		return err
	}
}

func upsertOp(cc *azcosmos.ContainerClient) func(int) error {
	return func(i int) error {
		k := i % 1000
		cust := fmt.Sprintf("c%d", k%10)
		body := fmt.Sprintf(`{"id":"o%d","customerId":"%s","total":%d,"status":"paid","lines":[{"sku":"a","qty":1},{"sku":"b","qty":2}]}`, k, cust, i)
		_, err := cc.UpsertItem(ctx(), azcosmos.NewPartitionKeyString(cust), []byte(body), nil)
		return err
	}
}

// runBoth measures the stand-in and then the stub with the same client setup and
// reports both, and the stand-in's throughput as a fraction of the stub's.
func runBoth(b *testing.B, g int, op benchOp) {
	e := newEnv(b, nil)
	cc := e.container(e.keyClient(), "orderflow", "orders")
	for k := 0; k < 100; k++ {
		body := fmt.Sprintf(`{"id":"o%d","customerId":"c%d","total":%d,"status":"paid"}`, k, k%10, k)
		if _, err := cc.UpsertItem(ctx(), azcosmos.NewPartitionKeyString(fmt.Sprintf("c%d", k%10)), []byte(body), nil); err != nil {
			b.Fatal(err)
		}
	}
	var stubEndpoint string
	stub := httptest.NewUnstartedServer(stubHandler(&stubEndpoint))
	cfg, err := sharedCA(b).ServerConfig()
	if err != nil {
		b.Fatal(err)
	}
	stub.TLS = cfg
	stub.StartTLS()
	defer stub.Close()
	stubEndpoint = "https://localhost:" + stub.URL[strings.LastIndex(stub.URL, ":")+1:] + "/"
	cred, _ := azcosmos.NewKeyCredential(EmulatorKey)
	sc, err := azcosmos.NewClientWithKey(stubEndpoint, cred, e.clientOptions())
	if err != nil {
		b.Fatal(err)
	}
	scc, _ := sc.NewContainer("orderflow", "orders")

	// Warm both (connections, account document, caches).
	warm(b, op(cc))
	warm(b, op(scc))

	n := b.N
	if n < 1000 {
		n = 1000
	}
	// Alternate the two in many short rounds so that load from other processes on
	// the machine falls on both alike; rates are total operations over total time.
	const rounds = 10
	per := n / rounds
	var el, stubEl time.Duration
	var lat, stubLat []time.Duration
	b.ResetTimer()
	for r := 0; r < rounds; r++ {
		d1, l1 := workload(b, per, g, op(cc))
		d2, l2 := workload(b, per, g, op(scc))
		el, stubEl = el+d1, stubEl+d2
		lat, stubLat = append(lat, l1...), append(stubLat, l2...)
	}
	b.StopTimer()
	rate := float64(per*rounds) / el.Seconds()
	stubRate := float64(per*rounds) / stubEl.Seconds()
	b.ReportMetric(rate, "ops/s")
	b.ReportMetric(float64(p99(lat).Microseconds()), "p99-µs")
	b.ReportMetric(stubRate, "stub-ops/s")
	b.ReportMetric(float64(p99(stubLat).Microseconds()), "stub-p99-µs")
	b.ReportMetric(rate/stubRate, "of-ceiling")
}

func warm(b *testing.B, f func(int) error) {
	for i := 0; i < 50; i++ {
		if err := f(i); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPointRead(b *testing.B) {
	for _, g := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) { runBoth(b, g, readOp) })
	}
}

func BenchmarkUpsert(b *testing.B) {
	for _, g := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) { runBoth(b, g, upsertOp) })
	}
}
