package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/contoso/orderflow/frontend/hub"
	"github.com/contoso/orderflow/platform/orders"
)

// orderEvents handles GET /api/orders/{id}/events, a Server-Sent Events stream
// of the order's status. It sends the current status first (a client that
// connects after completion still sees Completed), then every change, from two
// sources: the hub, fed by this replica's subscription on the order-events
// topic, and a poll of the store every few seconds, which covers events that
// went to another replica's subscription or were missed. The stream ends after
// a terminal status, on shutdown, or when the client leaves.
func (s *Server) orderEvents(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	if err := orders.ValidateOrderID(id); err != nil {
		return err
	}
	// The stream is made before subscribing so the subscription can notify it;
	// until it is live (handOver), events wait in the subscription.
	live := &liveStream{srv: s, id: id, heartbeat: s.limits.Heartbeat, poll: s.limits.Poll, index: -1}
	// Subscribe before reading the current status, so a change between the
	// read and the subscription cannot be lost.
	sub := s.hub.SubscribeFunc(id, live.onReady)
	live.sub = sub
	handedOver := false
	defer func() {
		if !handedOver {
			sub.Close()
		}
	}()
	o, err := s.orders.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("get order %s: %w", id, err)
	}

	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-store")
	// Tell nginx-style proxies (ingress controllers) not to buffer the stream.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if isHead(c) {
		return nil // the headers are the whole answer; a stream of nothing would only hold the connection
	}
	// Counted from here, where the stream is open, to whatever ends it.
	s.metrics.SSEClients.Inc()
	rc := http.NewResponseController(w)
	// The server's write timeout is for ordinary responses; a stream lives longer.
	_ = rc.SetWriteDeadline(time.Time{})

	st := sseStream{w: w, rc: rc}
	// retry: how long EventSource waits before reconnecting after a drop.
	if err := st.raw("retry: 3000\n\n"); err != nil {
		s.metrics.SSEClients.Dec()
		return nil
	}
	last := statusEventOf(o)
	if err := s.sendStatus(ctx, st, last, "store"); err != nil || terminal(last.Status) {
		s.metrics.SSEClients.Dec()
		return nil
	}
	live.customerID, live.last = o.CustomerID, last.Status
	if handedOver = s.handOver(c, rc, live); handedOver {
		return nil
	}
	defer s.metrics.SSEClients.Dec()
	s.streamLoop(ctx, st, sub, o.CustomerID, last)
	return nil
}

// handOver takes the connection of an HTTP/1.x stream over from net/http and
// gives the stream to the server's registry, so the handler can return: its
// goroutine, parked under net/http, otelhttp and the middleware, and net/http's
// buffers of the connection were most of what an idle stream cost. The headers
// and the first frames have gone out through net/http already, so they are
// exactly those of any other response (the middleware's security headers, the
// request ID); the stream goes on in the framing net/http announced in them.
// It reports false, having changed nothing, where the connection cannot be
// taken (HTTP/2, a test recorder): the handler then keeps the stream itself.
func (s *Server) handOver(c echo.Context, rc *http.ResponseController, live *liveStream) bool {
	req := c.Request()
	if req.ProtoMajor != 1 {
		return false
	}
	// Held before the handler returns, which is when otelhttp ends the span.
	release := holdSpan(req.Context())
	conn, _, err := rc.Hijack()
	if err != nil {
		release()
		return false
	}
	// net/http chunks a body of unknown length for HTTP/1.1 and closes the
	// connection after it for HTTP/1.0; the handler set neither Content-Length
	// nor Transfer-Encoding, so the protocol alone decided.
	chunked := req.ProtoAtLeast(1, 1)
	live.ctx, live.cancel = context.WithCancel(context.WithoutCancel(req.Context()))
	live.release = release
	// Set before the stream starts: the middleware reads it after the handler
	// returns, to report the request when the stream ends (whenEnded).
	c.Set(streamKey, live)
	live.start(conn, chunked, time.Now())
	return true
}

// streamLoop is the stream kept by its handler, where the connection could not
// be taken over: it waits on one timer for both the heartbeat and the poll, and
// on the subscription's wake-up, until the stream ends.
func (s *Server) streamLoop(ctx context.Context, st sseStream, sub *hub.Subscription, customerID string, last hub.StatusEvent) {
	id := last.OrderID
	t := newStreamTimer(time.Now(), s.limits.Heartbeat, s.limits.Poll)
	defer t.stop()
	// push sends next unless the client already has that status, and reports
	// whether the stream is over (the client left or the status is terminal).
	push := func(next hub.StatusEvent, source string) bool {
		if next.Status == last.Status {
			return false
		}
		last = next
		return s.sendStatus(ctx, st, next, source) != nil || terminal(next.Status)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.Ready():
			events, ended := sub.Take()
			for _, ev := range events {
				if push(ev, "topic") {
					return
				}
			}
			if ended {
				// The hub closed: the process is shutting down. Say so, so the page
				// knows the reconnect it will make is expected.
				_ = st.raw("event: shutdown\ndata: {}\n\n")
				return
			}
		case now := <-t.c():
			beat, poll := t.due(now)
			if beat {
				if err := st.raw(": heartbeat\n\n"); err != nil {
					return
				}
			}
			if !poll {
				continue
			}
			// A point read in the order's partition: the ID-only Get is a
			// cross-partition query, too costly to run every few seconds per client.
			o, err := s.orders.GetByCustomer(ctx, customerID, id)
			if err != nil {
				if ctx.Err() == nil {
					s.log.WarnContext(ctx, "poll order for SSE", "order_id", id, "err", err)
				}
				continue
			}
			if push(statusEventOf(o), "poll") {
				return
			}
		}
	}
}

func terminal(s string) bool {
	return s == string(orders.StatusCompleted) || s == string(orders.StatusFailed)
}

func statusEventOf(o *orders.Order) hub.StatusEvent {
	return hub.StatusEvent{OrderID: o.ID, Status: string(o.Status), Reason: o.FailureReason, At: o.UpdatedAt.UTC().Format(time.RFC3339Nano)}
}

// sseStream writes SSE frames and flushes each one.
type sseStream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s sseStream) raw(frame string) error {
	if _, err := s.w.Write([]byte(frame)); err != nil {
		return err
	}
	return s.rc.Flush()
}

// frameSink is where SSE frames go: the handler's ResponseWriter (sseStream)
// or a taken-over connection (connFrames).
type frameSink interface {
	raw(frame string) error
}

// sendEvent writes one "status" event; its id is the status, which is enough for a
// human reading the stream and harmless if a client sends it back.
func sendEvent(s frameSink, ev hub.StatusEvent) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return s.raw("event: status\nid: " + ev.Status + "\ndata: " + string(b) + "\n\n")
}

// streamTimer is one timer for a stream's two periodic duties, the heartbeat
// comment and the store poll: each ticker costs an idle stream its own timer.
type streamTimer struct {
	timer              *time.Timer
	heartbeat, poll    time.Duration
	nextBeat, nextPoll time.Time
}

func newStreamTimer(now time.Time, heartbeat, poll time.Duration) *streamTimer {
	return &streamTimer{
		timer:     time.NewTimer(min(heartbeat, poll)),
		heartbeat: heartbeat, poll: poll,
		nextBeat: now.Add(heartbeat), nextPoll: now.Add(poll),
	}
}

func (t *streamTimer) c() <-chan time.Time { return t.timer.C }

func (t *streamTimer) stop() { t.timer.Stop() }

// due reports which duties are due at now, schedules their next turn and
// re-arms the timer for the earlier of the two.
func (t *streamTimer) due(now time.Time) (beat, poll bool) {
	if beat = !now.Before(t.nextBeat); beat {
		t.nextBeat = now.Add(t.heartbeat)
	}
	if poll = !now.Before(t.nextPoll); poll {
		t.nextPoll = now.Add(t.poll)
	}
	next := t.nextBeat
	if t.nextPoll.Before(next) {
		next = t.nextPoll
	}
	t.timer.Reset(next.Sub(now))
	return beat, poll
}
