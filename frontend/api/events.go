package api

import (
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
	// Subscribe before reading the current status, so a change between the
	// read and the subscription cannot be lost.
	sub := s.hub.Subscribe(id)
	defer sub.Close()
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
	// Counted from here, where the stream is open, to whichever return ends it.
	s.metrics.SSEClients.Inc()
	defer s.metrics.SSEClients.Dec()
	rc := http.NewResponseController(w)
	// The server's write timeout is for ordinary responses; a stream lives longer.
	_ = rc.SetWriteDeadline(time.Time{})

	st := sseStream{w: w, rc: rc}
	// retry: how long EventSource waits before reconnecting after a drop.
	if err := st.raw("retry: 3000\n\n"); err != nil {
		return nil
	}
	customerID := o.CustomerID
	last := statusEventOf(o)
	if err := s.sendStatus(ctx, st, last, "store"); err != nil || terminal(last.Status) {
		return nil
	}

	// Once set up, the stream waits on one timer for both the heartbeat and the
	// poll, and on the subscription's wake-up: an idle stream owns no buffer.
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
			return nil
		case <-sub.Ready():
			events, ended := sub.Take()
			for _, ev := range events {
				if push(ev, "topic") {
					return nil
				}
			}
			if ended {
				// The hub closed: the process is shutting down. Say so, so the page
				// knows the reconnect it will make is expected.
				_ = st.raw("event: shutdown\ndata: {}\n\n")
				return nil
			}
		case now := <-t.c():
			beat, poll := t.due(now)
			if beat {
				if err := st.raw(": heartbeat\n\n"); err != nil {
					return nil
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
				return nil
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

// send writes one "status" event; its id is the status, which is enough for a
// human reading the stream and harmless if a client sends it back.
func (s sseStream) send(ev hub.StatusEvent) error {
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
