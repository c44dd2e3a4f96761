// Package feed is the frontend's one receiver loop on its subscription to the
// order-events topic. Each OrderCompleted it receives goes to the SSE hub,
// which fans it out to the browsers watching that order.
//
// One loop per process, not one per browser: a subscription delivers each
// message to one receiver, so per-browser receivers would steal each other's
// events. With several replicas each needs its own subscription (or relies on
// the SSE handler's store poll); see docs/frontend-api.md.
package feed

import (
	"container/list"
	"context"
	"log/slog"
	"time"

	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/servicebus"
)

// Receiver is the part of *servicebus.Receiver the loop uses (a seam for tests).
type Receiver interface {
	Receive(ctx context.Context, max int) ([]*servicebus.Message, error)
	Complete(ctx context.Context, m *servicebus.Message) error
	DeadLetter(ctx context.Context, m *servicebus.Message, reason, description string) error
}

// Sink takes the decoded events; *http.Hub implements it. ctx carries the
// message's consumer span, which the SSE push continues.
type Sink interface {
	PublishEvent(ctx context.Context, e orders.Event) (int, error)
}

// batch is how many messages one receive asks for; events are tiny and
// handled in microseconds, so a larger batch only holds more locks.
const batch = 16

// Feed runs the receive loop (servicebus.Loop: backoff, last error) and hands
// each message to the sink; settling and deduplication are its own.
type Feed struct {
	sink Sink
	r    Receiver
	log  *slog.Logger
	// MaxBackoff caps the wait between failed receives (default 30 s).
	MaxBackoff time.Duration

	loop servicebus.Loop

	// delivered holds the IDs of the events already given to the sink. The
	// worker records each OrderCompleted on its order, but a crash between its
	// publish and that record re-publishes it once, with the same event ID, and
	// the topic's duplicate detection does not help once its window has passed.
	delivered *idSet
}

// seenEvents bounds delivered. A duplicate arrives when the order's OrderPlaced
// is redelivered, within minutes of the original (lock expiry plus the
// worker's backoff, at most 30 s per retry); 4096 IDs cover far more than that
// at this service's order rate, for about 300 KiB.
const seenEvents = 4096

// idSet is a set of strings that forgets the least recently added beyond max.
type idSet struct {
	max   int
	order *list.List // front = newest
	index map[string]*list.Element
}

func newIDSet(max int) *idSet {
	return &idSet{max: max, order: list.New(), index: make(map[string]*list.Element, max)}
}

func (s *idSet) has(id string) bool { _, ok := s.index[id]; return ok }

func (s *idSet) add(id string) {
	if e, ok := s.index[id]; ok {
		s.order.MoveToFront(e)
		return
	}
	s.index[id] = s.order.PushFront(id)
	if s.order.Len() > s.max {
		oldest := s.order.Back()
		s.order.Remove(oldest)
		delete(s.index, oldest.Value.(string))
	}
}

// New returns a feed from r into sink.
func New(r Receiver, sink Sink, log *slog.Logger) *Feed {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Feed{r: r, sink: sink, log: log, MaxBackoff: servicebus.DefaultMaxBackoff, delivered: newIDSet(seenEvents)}
	f.loop.Receiver, f.loop.Batch, f.loop.Name, f.loop.Log = r, batch, "order-events subscription", log
	return f
}

// Run receives until ctx is done. Receive failures are retried with backoff and
// never end the loop, because the page can live on the SSE poll fallback
// meanwhile. Messages are handled one at a time on this goroutine, which is what
// lets delivered go without a lock.
func (f *Feed) Run(ctx context.Context) {
	f.loop.MaxBackoff = f.MaxBackoff // a field callers set after New
	f.loop.Run(ctx, f.handle)
}

// handle delivers one message to the sink and settles it. A message that is
// not a well-formed event of a type the frontend knows is dead-lettered, as the
// event contract asks of every consumer, so it is kept for inspection instead
// of coming back forever.
func (f *Feed) handle(ctx context.Context, m *servicebus.Message) {
	// The consumer span continues the trace of the backend's publish (and so of the
	// order's POST); the hub hands its context on to the SSE push.
	ctx, span := servicebus.StartProcess(ctx, m)
	var disposition string
	var err error
	defer func() { servicebus.EndProcess(span, disposition, err) }()
	complete := func(what string) {
		if cerr := f.r.Complete(ctx, m); cerr != nil {
			if ctx.Err() == nil {
				// The lock may be lost; the message comes back and is delivered again,
				// which the page shrugs off (a status it already shows is not resent).
				f.log.WarnContext(ctx, what, "message_id", m.ID, "err", cerr)
			}
			return
		}
		disposition = "complete"
	}

	ev, err := orders.DecodeEvent(m.Body)
	if err == nil && f.delivered.has(ev.ID) {
		// Only Run's goroutine touches delivered, so it needs no lock.
		f.log.DebugContext(ctx, "dropping an order event already delivered", "event_id", ev.ID, "message_id", m.ID)
		complete("complete duplicate order event")
		return
	}
	if err == nil {
		var n int
		n, err = f.sink.PublishEvent(ctx, ev)
		if err == nil {
			f.delivered.add(ev.ID)
			f.log.DebugContext(ctx, "order event fanned out", "event_id", ev.ID, "type", ev.Type, "subscribers", n)
			complete("complete order event")
			return
		}
	}
	reason := servicebus.ReasonInvalidMessage
	if orders.ErrorCode(err) == orders.EUNSUPPORTED {
		reason = servicebus.ReasonUnsupportedEvent
	}
	f.log.WarnContext(ctx, "dead-lettering order event", "message_id", m.ID, "reason", reason, "err", err)
	if derr := f.r.DeadLetter(ctx, m, reason, orders.ErrorMessage(err)); derr != nil {
		if ctx.Err() == nil {
			f.log.WarnContext(ctx, "dead-letter order event", "message_id", m.ID, "err", derr)
		}
		return
	}
	disposition = "dead_letter"
}

// Check reports the outcome of the last receive: nil when it worked. While the
// first receive is still waiting for a message there is no failure to report,
// so that counts as working.
func (f *Feed) Check(context.Context) error { return f.loop.Err() }
