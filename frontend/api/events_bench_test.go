package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/contoso/orderflow/frontend/hub"
	"github.com/contoso/orderflow/platform/metrics"
	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/orders/orderstest"
)

// streamRig is a real HTTP server running the real handler (middleware, otelhttp
// and all) with n Pending orders in the in-memory store, for measuring what idle
// SSE streams cost the server.
type streamRig struct {
	hub *hub.Hub
	srv *httptest.Server
	ids []string
}

// rigHeartbeat is the rig's heartbeat interval.
const rigHeartbeat = 200 * time.Millisecond

func newStreamRig(tb testing.TB, n int) *streamRig {
	tb.Helper()
	store := orderstest.NewOrders()
	ids := make([]string, n)
	for i := range ids {
		o, err := orders.NewOrder(orders.PlaceOrderInput{CustomerID: fmt.Sprintf("c-%d", i),
			Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: 1}}}, orders.DefaultCatalog(), time.Now())
		if err != nil {
			tb.Fatal(err)
		}
		if err := store.Create(context.Background(), o); err != nil {
			tb.Fatal(err)
		}
		ids[i] = o.ID
	}
	h := hub.NewHub()
	// A taken-over stream notices that its client left by the failed write of a
	// heartbeat (live_stream.go), so the heartbeat is short enough for closeAll
	// to see the streams go within its wait.
	api := NewServer(Deps{Orders: store, Hub: h,
		Logger:  slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Metrics: metrics.New(metrics.NewRegistry(), metrics.Frontend),
	}, Limits{Heartbeat: rigHeartbeat, Poll: time.Hour})
	srv := httptest.NewServer(api)
	tb.Cleanup(func() {
		h.Close()
		srv.Close()
	})
	return &streamRig{hub: h, srv: srv, ids: ids}
}

// memInUse is the heap and goroutine stack memory in use after a full GC.
func memInUse() int64 {
	for range 6 {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse)
}

// open dials one raw TCP connection per order and reads each stream up to its
// first status event, so every handler is past its setup and idle. Raw
// connections keep the client's own cost (no Transport, no reader goroutine)
// out of the figure.
func (r *streamRig) open(tb testing.TB) []net.Conn {
	tb.Helper()
	conns := make([]net.Conn, 0, len(r.ids))
	buf := make([]byte, 4096)
	for _, id := range r.ids {
		c, err := net.Dial("tcp", r.srv.Listener.Addr().String())
		if err != nil {
			tb.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, "GET /api/orders/"+id+"/events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
			tb.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var got []byte
		for !bytes.Contains(got, []byte("event: status")) || !bytes.HasSuffix(got, []byte("\n\n\r\n")) {
			n, err := c.Read(buf)
			if err != nil {
				tb.Fatalf("stream %s: %v after %q", id, err, got)
			}
			got = append(got, buf[:n]...)
		}
	}
	return conns
}

// waitFor polls cond until it holds or 10 s pass, and reports whether it held.
func waitFor(cond func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// closeAll closes every client connection and waits until the hub has let go of
// every subscription and the server's goroutines have ended.
func (r *streamRig) closeAll(tb testing.TB, conns []net.Conn, goroutines int) {
	tb.Helper()
	for _, c := range conns {
		_ = c.Close()
	}
	if !waitFor(func() bool { return r.hub.Len() == 0 }) {
		tb.Fatalf("hub still holds %d subscriptions after every client left", r.hub.Len())
	}
	if !waitFor(func() bool { return runtime.NumGoroutine() <= goroutines }) {
		tb.Fatalf("%d goroutines after every client left, %d before they came", runtime.NumGoroutine(), goroutines)
	}
}

// TestEventsStreamsReleased: streams whose clients leave while idle give back
// their subscription and their goroutines.
func TestEventsStreamsReleased(t *testing.T) {
	const n = 50
	r := newStreamRig(t, n)
	g0 := runtime.NumGoroutine()
	conns := r.open(t)
	if !waitFor(func() bool { return r.hub.Len() == n }) {
		t.Fatalf("hub holds %d subscriptions, want %d", r.hub.Len(), n)
	}
	if g := runtime.NumGoroutine(); g <= g0 {
		t.Fatalf("%d goroutines with %d streams open, %d before: the streams are not being served", g, n, g0)
	}
	r.closeAll(t, conns, g0)
}

// BenchmarkSSEIdleStreams opens 1000 idle SSE streams over real connections and
// reports the heap and stack they hold (bytes/stream), what is still held once
// their clients left (held-bytes/stream) and the goroutines each stream runs.
// The raw client connections are in the figure too, at a few hundred bytes each.
func BenchmarkSSEIdleStreams(b *testing.B) {
	const n = 1000
	var open, held, goroutines float64
	for range b.N {
		b.StopTimer()
		r := newStreamRig(b, n)
		base := memInUse()
		g0 := runtime.NumGoroutine()
		b.StartTimer()
		conns := r.open(b)
		b.StopTimer()
		if !waitFor(func() bool { return r.hub.Len() == n }) {
			b.Fatalf("hub holds %d subscriptions, want %d", r.hub.Len(), n)
		}
		open += float64(memInUse()-base) / n
		goroutines += float64(runtime.NumGoroutine()-g0) / n
		r.closeAll(b, conns, g0)
		held += float64(memInUse()-base) / n
		r.hub.Close()
		r.srv.Close()
	}
	b.ReportMetric(open/float64(b.N), "bytes/stream")
	b.ReportMetric(held/float64(b.N), "held-bytes/stream")
	b.ReportMetric(goroutines/float64(b.N), "goroutines/stream")
}
