package api

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/contoso/orderflow/platform/orders"
)

// rawStream sends a GET of the order's events over a raw connection with the
// given protocol and returns the response's headers and a reader of its body
// as sent on the wire (chunk framing included).
func rawStream(t *testing.T, f *fixture, id, proto string) (net.Conn, *http.Response, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", f.http.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /api/orders/"+id+"/events "+proto+"\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	// Read the head only: ReadResponse's body would undo the framing under test.
	tp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(headOnly(t, br))), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, tp, br
}

// headOnly reads the response head from br, up to its blank line.
func headOnly(t *testing.T, br *bufio.Reader) io.Reader {
	t.Helper()
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("head: %v after %q", err, head.String())
		}
		head.WriteString(line)
		if line == "\r\n" {
			return strings.NewReader(head.String())
		}
	}
}

func readUntil(t *testing.T, br *bufio.Reader, want string) string {
	t.Helper()
	var got strings.Builder
	for !strings.Contains(got.String(), want) {
		b, err := br.ReadByte()
		if err != nil {
			t.Fatalf("waiting for %q: %v after %q", want, err, got.String())
		}
		got.WriteByte(b)
	}
	return got.String()
}

func waitTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !waitFor(cond) {
		t.Fatalf("not within 10 s: %s", what)
	}
}

func publishCompleted(t *testing.T, f *fixture, o *orders.Order) {
	t.Helper()
	ev, err := orders.NewOrderCompletedEvent(o, &orders.Receipt{OrderID: o.ID, IssuedAt: time.Now(), KeyVersion: "v1"}, "/test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.hub.PublishEvent(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

// TestLiveStreamOverHTTP11: an HTTP/1.1 stream is handed over (its handler
// returns, the registry holds it) and goes on in chunks: heartbeat, the change
// from the hub, then the last chunk after the terminal status and a closed
// connection, with everything it held given back.
func TestLiveStreamOverHTTP11(t *testing.T) {
	f := newFixture(t, Limits{Poll: time.Hour, Heartbeat: 30 * time.Millisecond})
	o := f.seedOrder("c-1", time.Now())
	_, resp, br := rawStream(t, f, o.ID, "HTTP/1.1")
	if resp.StatusCode != http.StatusOK || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("status %d, transfer encoding %v", resp.StatusCode, resp.TransferEncoding)
	}
	for h, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-store",
		"X-Accel-Buffering": "no", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s %q, want %q", h, got, want)
		}
	}
	first := readUntil(t, br, "\n\n\r\n") // the retry chunk
	if !strings.HasSuffix(first, "retry: 3000\n\n\r\n") {
		t.Errorf("first chunk %q, want retry: 3000", first)
	}
	if got := readUntil(t, br, "\n\n\r\n"); !strings.Contains(got, `"status":"Pending"`) {
		t.Errorf("second chunk %q, want the current status", got)
	}
	waitTrue(t, "stream handed over", func() bool { return f.srv.streams.len() == 1 })
	if got := testutil.ToFloat64(f.metrics.SSEClients); got != 1 {
		t.Errorf("sse clients %v, want 1", got)
	}
	if got := readUntil(t, br, "\n\n\r\n"); got != "d\r\n: heartbeat\n\n\r\n" {
		t.Errorf("heartbeat chunk %q", got)
	}
	publishCompleted(t, f, o)
	if got := readUntil(t, br, `"status":"Completed"`); strings.Contains(got, "Pending") {
		t.Errorf("Pending sent twice: %q", got)
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("after Completed: %v", err)
	}
	if !strings.HasSuffix(string(rest), "\n\n\r\n0\r\n\r\n") {
		t.Errorf("stream did not end with the last chunk: %q", rest)
	}
	waitTrue(t, "stream released", func() bool {
		return f.hub.Len() == 0 && f.srv.streams.len() == 0 && testutil.ToFloat64(f.metrics.SSEClients) == 0
	})
	// The request's log line is written when the stream ends (before the gauge
	// drops), with the bytes of the whole stream.
	line := ""
	for l := range strings.SplitSeq(f.log.String(), "\n") {
		if strings.Contains(l, "route=/api/orders/:id/events") {
			line = l
		}
	}
	if !strings.Contains(line, "status=200") || strings.Contains(line, "bytes=0") {
		t.Errorf("request log line %q", line)
	}
}

// TestLiveStreamOverHTTP10: HTTP/1.0 has no chunks; the body is ended by closing
// the connection.
func TestLiveStreamOverHTTP10(t *testing.T) {
	f := newFixture(t, Limits{Poll: time.Hour, Heartbeat: time.Hour})
	o := f.seedOrder("c-1", time.Now())
	_, resp, br := rawStream(t, f, o.ID, "HTTP/1.0")
	if len(resp.TransferEncoding) != 0 {
		t.Fatalf("transfer encoding %v on HTTP/1.0", resp.TransferEncoding)
	}
	readUntil(t, br, `"status":"Pending"`)
	waitTrue(t, "stream handed over", func() bool { return f.srv.streams.len() == 1 })
	publishCompleted(t, f, o)
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rest), `"status":"Completed"`) || strings.Contains(string(rest), "\r\n") {
		t.Errorf("body after Pending %q, want the Completed event unframed", rest)
	}
}

// TestLiveStreamClientGone: a client that leaves is noticed by the next
// heartbeat's write, and the stream gives back its subscription, queue entry and
// gauge count.
func TestLiveStreamClientGone(t *testing.T) {
	f := newFixture(t, Limits{Poll: time.Hour, Heartbeat: 20 * time.Millisecond})
	o := f.seedOrder("c-1", time.Now())
	c, _, br := rawStream(t, f, o.ID, "HTTP/1.1")
	readUntil(t, br, `"status":"Pending"`)
	waitTrue(t, "stream handed over", func() bool { return f.srv.streams.len() == 1 })
	c.Close()
	waitTrue(t, "stream released", func() bool {
		return f.hub.Len() == 0 && f.srv.streams.len() == 0 && testutil.ToFloat64(f.metrics.SSEClients) == 0
	})
}

// TestLiveStreamShutdown: the hub's close ends a handed-over stream with the
// shutdown event and the last chunk.
func TestLiveStreamShutdown(t *testing.T) {
	f := newFixture(t, Limits{Poll: time.Hour, Heartbeat: time.Hour})
	o := f.seedOrder("c-1", time.Now())
	_, _, br := rawStream(t, f, o.ID, "HTTP/1.1")
	readUntil(t, br, `"status":"Pending"`)
	waitTrue(t, "stream handed over", func() bool { return f.srv.streams.len() == 1 })
	f.hub.Close()
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rest), "event: shutdown\ndata: {}\n\n\r\n0\r\n\r\n") {
		t.Errorf("after the hub closed: %q", rest)
	}
	waitTrue(t, "stream released", func() bool {
		return f.srv.streams.len() == 0 && testutil.ToFloat64(f.metrics.SSEClients) == 0
	})
}

// TestLiveStreamPollErrorLogged: a failed store poll of a handed-over stream is
// logged and the stream goes on; the next good poll brings the change.
func TestLiveStreamPollErrorLogged(t *testing.T) {
	f := newFixture(t, Limits{Poll: 20 * time.Millisecond, Heartbeat: time.Hour})
	o := f.seedOrder("c-1", time.Now())
	failing := make(chan bool, 1)
	failing <- true
	f.orders.Fail = func(op string) error {
		if op != "GetByCustomer" {
			return nil
		}
		fail := <-failing
		failing <- fail
		if fail {
			return errors.New("store down")
		}
		return nil
	}
	ch, _ := openSSE(t, f, "/api/orders/"+o.ID+"/events")
	if ev, _ := nextStatus(t, ch, 5*time.Second); ev.Status != "Pending" {
		t.Fatalf("first event %+v", ev)
	}
	time.Sleep(100 * time.Millisecond) // a few polls fail
	<-failing
	failing <- false
	f.complete(o)
	if ev, ok := nextStatus(t, ch, 5*time.Second); !ok || ev.Status != "Completed" {
		t.Fatalf("event %+v, want Completed from the poll", ev)
	}
	// Read once the stream has ended, so no poll is writing to the log.
	waitTrue(t, "stream ended", func() bool { return testutil.ToFloat64(f.metrics.SSEClients) == 0 })
	if !strings.Contains(f.log.String(), `msg="poll order for SSE"`) || !strings.Contains(f.log.String(), "store down") {
		t.Errorf("poll error not logged:\n%s", f.log.String())
	}
}

// TestStreamFallbackHTTP2: over HTTP/2 the connection cannot be taken, and the
// handler keeps the stream as before.
func TestStreamFallbackHTTP2(t *testing.T) {
	f := newFixture(t, Limits{Poll: time.Hour, Heartbeat: 20 * time.Millisecond})
	h2 := httptest.NewUnstartedServer(f.srv)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)
	o := f.seedOrder("c-1", time.Now())
	client := h2.Client()
	client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}
	resp, err := client.Get(h2.URL + "/api/orders/" + o.ID + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("proto %s, want HTTP/2", resp.Proto)
	}
	br := bufio.NewReader(resp.Body)
	readUntil(t, br, `"status":"Pending"`)
	readUntil(t, br, ": heartbeat")
	if n := f.srv.streams.len(); n != 0 {
		t.Errorf("registry holds %d streams; HTTP/2 cannot be taken over", n)
	}
	publishCompleted(t, f, o)
	readUntil(t, br, `"status":"Completed"`)
	if _, err := io.ReadAll(br); err != nil {
		t.Fatal(err)
	}
	waitTrue(t, "stream released", func() bool { return f.hub.Len() == 0 && testutil.ToFloat64(f.metrics.SSEClients) == 0 })
}

// TestStreamFallbackRecorder: a ResponseWriter that cannot be hijacked keeps the
// handler's loop: the whole stream is in the recorder when it returns.
func TestStreamFallbackRecorder(t *testing.T) {
	f := newFixture(t, Limits{Poll: time.Hour, Heartbeat: time.Hour})
	o := f.seedOrder("c-1", time.Now())
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/orders/"+o.ID+"/events", nil))
	}()
	waitSubscribers(t, f.hub, o.ID, 1)
	publishCompleted(t, f, o)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("handler still running after Completed")
	}
	body := rec.Body.String()
	if !strings.HasPrefix(body, "retry: 3000\n\n") || !strings.Contains(body, `"status":"Pending"`) || !strings.Contains(body, `"status":"Completed"`) {
		t.Errorf("body %q", body)
	}
	if got := testutil.ToFloat64(f.metrics.SSEClients); got != 0 {
		t.Errorf("sse clients %v after the stream ended", got)
	}
}
