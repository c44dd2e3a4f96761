package api

import (
	"context"
	"net"
	"strconv"
	"sync"
	"time"

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

	mu   sync.Mutex
	w    connFrames
	live bool   // the connection is taken over; before that onReady leaves events pending
	last string // the status the client has, so none is sent twice
	done bool
}

// connFrames writes SSE frames straight to a taken-over connection.
type connFrames struct {
	conn net.Conn
	// chunked: net/http announced "Transfer-Encoding: chunked" in the headers it
	// wrote (HTTP/1.1), so every frame is one chunk (RFC 9112 section 7.1);
	// otherwise (HTTP/1.0) the body is delimited by closing the connection
	// (RFC 9112 section 6.3, rule 8) and frames go out as they are.
	chunked bool
}

func (w connFrames) raw(frame string) error {
	b := make([]byte, 0, len(frame)+12)
	if w.chunked {
		b = strconv.AppendInt(b, int64(len(frame)), 16)
		b = append(b, "\r\n"...)
	}
	b = append(b, frame...)
	if w.chunked {
		b = append(b, "\r\n"...)
	}
	return w.write(b)
}

func (w connFrames) write(b []byte) error {
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
func (w connFrames) end(clean bool) {
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
	st.w = connFrames{conn: conn, chunked: chunked}
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
	st.srv.metrics.SSEClients.Dec()
	st.release()
}
