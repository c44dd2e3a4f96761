package api

import (
	"context"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/contoso/orderflow/frontend/hub"
)

// frameWriteTimeout bounds every write to a taken-over stream. Writes happen on
// the hub publisher's goroutine (a topic event) or on a tick's: a client that
// cannot take a frame within it (its socket buffer is full) is dropped rather
// than allowed to hold the publisher up; its EventSource reconnects and gets the
// current status first.
const frameWriteTimeout = time.Second

// liveStream is an SSE stream after its handler returned: the connection was
// taken over (events.go, handOver), and what used to be the handler's loop is
// now three entry points that need no goroutine of their own while idle:
// onReady, when the hub has events for it (on the publisher's goroutine); tick,
// when the registry finds it due (heartbeat, store poll); and finishLocked,
// however it ends.
//
// A client that leaves is noticed by the failed write of the next heartbeat or
// event: nothing reads the connection any more, so its close is not seen on its
// own. With the 15 s default heartbeat that is within one or two heartbeats
// (the first write after the close may still be accepted by the socket).
type liveStream struct {
	srv        *Server
	id         string
	customerID string
	sub        *hub.Subscription
	// ctx carries the request's values (its span, which holdSpan keeps open) but
	// not its cancellation, which came when the handler returned; cancel ends it
	// with the stream, so a poll in flight stops.
	ctx     context.Context
	cancel  context.CancelFunc
	release func() // of the request span

	// heartbeat, poll and nextBeat, nextPoll belong to the tick in flight: there
	// is at most one, since a stream is back on the queue only after it.
	heartbeat, poll    time.Duration
	nextBeat, nextPoll time.Time
	// due and index belong to the registry (under its lock).
	due   time.Time
	index int

	mu sync.Mutex
	w  *connFrames
	// ended are what the middleware left to do when the stream ends (onEnd).
	ended []func(written int64)
	live  bool   // the connection is taken over; before that onReady leaves events pending
	last  string // the status the client has, so none is sent twice
	done  bool
}

// connFrames writes SSE frames straight to a taken-over connection.
type connFrames struct {
	conn net.Conn
	// chunked: net/http announced "Transfer-Encoding: chunked" in the headers it
	// wrote (HTTP/1.1), so every frame is one chunk (RFC 9112 section 7.1);
	// otherwise (HTTP/1.0) the body is delimited by closing the connection
	// (RFC 9112 section 6.3, rule 8) and frames go out as they are.
	chunked bool
	// written counts the body bytes sent, framing aside, as echo's Response.Size does.
	written int64
}

func (w *connFrames) raw(frame string) error {
	b := make([]byte, 0, len(frame)+12)
	if w.chunked {
		b = strconv.AppendInt(b, int64(len(frame)), 16)
		b = append(b, "\r\n"...)
	}
	b = append(b, frame...)
	if w.chunked {
		b = append(b, "\r\n"...)
	}
	if err := w.write(b); err != nil {
		return err
	}
	w.written += int64(len(frame))
	return nil
}

func (w *connFrames) write(b []byte) error {
	if err := w.conn.SetWriteDeadline(time.Now().Add(frameWriteTimeout)); err != nil {
		return err
	}
	_, err := w.conn.Write(b)
	return err
}

// end finishes the body: a chunked one gets its last chunk (RFC 9112 section
// 7.1: "0" CRLF, no trailers, CRLF) so the client sees a complete response.
// The connection is closed after it either way: it has no reader to take a
// next request from.
func (w *connFrames) end(clean bool) {
	if clean && w.chunked {
		_ = w.write([]byte("0\r\n\r\n"))
	}
	_ = w.conn.Close()
}

// start makes the stream live on conn: it delivers what the hub queued while
// the handler was still setting up, and schedules the first tick.
func (st *liveStream) start(conn net.Conn, chunked bool, now time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.w = &connFrames{conn: conn, chunked: chunked}
	st.live = true
	st.nextBeat, st.nextPoll = now.Add(st.heartbeat), now.Add(st.poll)
	st.deliverLocked()
	st.scheduleLocked()
}

// onReady is the subscription's notify: the hub has events for this order, or
// has closed. It runs on the publisher's goroutine.
func (st *liveStream) onReady() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.live {
		st.deliverLocked()
	}
}

func (st *liveStream) deliverLocked() {
	if st.done {
		return
	}
	events, ended := st.sub.Take()
	for _, ev := range events {
		if st.pushLocked(ev, "topic") {
			return
		}
	}
	if ended {
		// The hub closed: the process is shutting down. Say so, so the page
		// knows the reconnect it will make is expected.
		err := st.w.raw("event: shutdown\ndata: {}\n\n")
		st.finishLocked(err == nil)
	}
}

// pushLocked sends ev unless the client already has that status, and reports
// whether the stream is over (the client left or the status is terminal).
func (st *liveStream) pushLocked(ev hub.StatusEvent, source string) bool {
	if ev.Status == st.last {
		return false
	}
	st.last = ev.Status
	if err := st.srv.sendStatus(st.ctx, st.w, ev, source); err != nil {
		st.finishLocked(false)
		return true
	}
	if terminal(ev.Status) {
		st.finishLocked(true)
		return true
	}
	return false
}

// tick does the duties due at now, on a goroutine of its own, and queues the
// stream again for the next one.
func (st *liveStream) tick(now time.Time) {
	beat := !now.Before(st.nextBeat)
	if beat {
		st.nextBeat = now.Add(st.heartbeat)
	}
	poll := !now.Before(st.nextPoll)
	if poll {
		st.nextPoll = now.Add(st.poll)
	}
	if beat {
		st.mu.Lock()
		if !st.done && st.w.raw(": heartbeat\n\n") != nil {
			st.finishLocked(false)
		}
		st.mu.Unlock()
	}
	var next hub.StatusEvent
	var polled bool
	if poll {
		next, polled = st.pollStore()
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if polled && !st.done {
		if st.pushLocked(next, "poll") {
			return
		}
	}
	st.scheduleLocked()
}

// pollStore reads the order's current status; ok is false if the read failed
// (logged) or the stream ended meanwhile.
func (st *liveStream) pollStore() (hub.StatusEvent, bool) {
	// A point read in the order's partition: the ID-only Get is a
	// cross-partition query, too costly to run every few seconds per client.
	o, err := st.srv.orders.GetByCustomer(st.ctx, st.customerID, st.id)
	if err != nil {
		if st.ctx.Err() == nil {
			st.srv.log.WarnContext(st.ctx, "poll order for SSE", "order_id", st.id, "err", err)
		}
		return hub.StatusEvent{}, false
	}
	return statusEventOf(o), true
}

// scheduleLocked queues the stream for its next duty unless it has ended.
// Under st.mu, so that a finish cannot slip between the check and the queueing
// and leave an ended stream on the queue.
func (st *liveStream) scheduleLocked() {
	if st.done {
		return
	}
	st.due = st.nextBeat
	if st.nextPoll.Before(st.due) {
		st.due = st.nextPoll
	}
	st.srv.streams.schedule(st)
}

// finishLocked ends the stream, whichever way it ended; clean means the server
// chose to end it (terminal status, shutdown), so the body is ended properly.
// It gives back everything the stream holds: the connection, the hub
// subscription, the queue entry, the gauge count and the request span.
func (st *liveStream) finishLocked(clean bool) {
	if st.done {
		return
	}
	st.done = true
	st.w.end(clean)
	st.cancel()
	st.sub.Close()
	st.srv.streams.remove(st)
	for _, f := range st.ended {
		f(st.w.written)
	}
	st.ended = nil
	st.release()
	st.srv.metrics.SSEClients.Dec()
}

// streamKey is the echo.Context key of the liveStream a handler handed over.
const streamKey = "sse-stream"

// handedOver returns the stream the request's handler handed over, or nil. It
// is for middleware that reports on a request once it is over (the request log
// line, the request metrics): for a stream that was handed over, the request is
// over when the stream ends, not when the handler returned (onEnd).
func handedOver(c echo.Context) *liveStream {
	st, _ := c.Get(streamKey).(*liveStream)
	return st
}

// onEnd runs f when the stream ends, with the body bytes the stream wrote after
// the hand-over (at once if it has ended). f runs once, on whichever goroutine
// ends the stream, and must not use the request's echo.Context, which is reused
// by then.
func (st *liveStream) onEnd(f func(written int64)) {
	st.mu.Lock()
	if !st.done {
		st.ended = append(st.ended, f)
		st.mu.Unlock()
		return
	}
	written := st.w.written
	st.mu.Unlock()
	f(written)
}
