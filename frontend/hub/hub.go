package hub

import (
	"sync"

	"go.opentelemetry.io/otel/trace"
)

// StatusEvent is one change of an order's status as the page sees it over SSE.
// It is what the hub fans out, whichever way it arrived (the topic subscription
// or the store poll), so the SSE handler needs to know only this one shape.
type StatusEvent struct {
	OrderID string `json:"orderId"`
	Status  string `json:"status"`
	// Reason explains a Failed status; empty otherwise.
	Reason string `json:"reason,omitempty"`
	// At is when the status changed, RFC 3339, as the producer stated it.
	At string `json:"at,omitempty"`

	// Trace is the span that delivered the event from the topic (invalid for a
	// status read from the store), continued by the SSE push.
	Trace trace.SpanContext `json:"-"`
}

// subscriberBuffer is how many events a slow SSE client may fall behind before
// the hub drops events for it. Dropping is safe because the SSE handler also
// polls the store, so a client that misses an event still converges.
const subscriberBuffer = 16

// shrinkAbove is how many orders the hub's map may have held before it is
// replaced by a fresh one once empty: a Go map never gives back the room it grew
// to, so a burst of streams would otherwise stay allocated after they all closed.
const shrinkAbove = 64

// Hub fans status events out from the one receiver loop of the process to every
// SSE client watching that order. It holds no history: late clients get the
// current status from the store instead.
type Hub struct {
	mu     sync.Mutex
	subs   map[string]map[*Subscription]struct{}
	n      int // subscriptions open
	peak   int // most orders subs has held since it was last made
	closed bool
	done   chan struct{}
}

// NewHub returns an empty, open hub.
func NewHub() *Hub {
	return &Hub{subs: make(map[string]map[*Subscription]struct{}), done: make(chan struct{})}
}

// Subscribe registers interest in orderID. The caller must Close the subscription.
// On a closed hub the returned subscription is already ended.
func (h *Hub) Subscribe(orderID string) *Subscription { return h.subscribe(orderID, nil) }

func (h *Hub) subscribe(orderID string, notify func()) *Subscription {
	s := &Subscription{hub: h, orderID: orderID, ready: make(chan struct{}, 1), notify: notify}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.end()
		return s
	}
	m := h.subs[orderID]
	if m == nil {
		m = make(map[*Subscription]struct{}, 1)
		h.subs[orderID] = m
		h.peak = max(h.peak, len(h.subs))
	}
	m[s] = struct{}{}
	h.n++
	return s
}

// SubscribeFunc is Subscribe for a reader that keeps no goroutine waiting on
// Ready: notify is called whenever the hub makes Ready fire (events queued, or
// the hub closed), and the reader then calls Take. It runs on the publisher's
// or closer's goroutine after the hub's lock is released, so it may write to a
// client and Close the subscription; it should not block for long, since the
// publisher waits for it, and it may run on two goroutines at once. It is not
// called for the owner's own Close. Ready still fires as for Subscribe.
func (h *Hub) SubscribeFunc(orderID string, notify func()) *Subscription {
	return h.subscribe(orderID, notify)
}

// remove unregisters s; h.mu must be held.
func (h *Hub) remove(s *Subscription) {
	m := h.subs[s.orderID]
	if _, ok := m[s]; !ok {
		return
	}
	delete(m, s)
	h.n--
	if len(m) == 0 {
		delete(h.subs, s.orderID)
	}
	if len(h.subs) == 0 && h.peak > shrinkAbove {
		h.subs = make(map[string]map[*Subscription]struct{})
		h.peak = 0
	}
}

// Publish hands ev to every subscriber of its order without blocking: a
// subscriber already holding subscriberBuffer undelivered events misses it.
// It reports how many subscribers received it.
func (h *Hub) Publish(ev StatusEvent) int {
	var room [4]*Subscription // most orders have a stream or two: no allocation for them
	notify := room[:0]
	n := 0
	h.mu.Lock()
	if !h.closed {
		for s := range h.subs[ev.OrderID] {
			if s.offer(ev) {
				n++
				if s.notify != nil {
					notify = append(notify, s)
				}
			}
		}
	}
	h.mu.Unlock()
	// Outside the lock: a notified reader writes to its client and may Close.
	for _, s := range notify {
		s.notify()
	}
	return n
}

// Subscribers reports how many clients watch orderID (for tests and metrics).
func (h *Hub) Subscribers(orderID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[orderID])
}

// Len reports how many subscriptions are open across all orders, so tests can
// tell that closed streams let go of theirs.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// Close ends every subscription, which ends every SSE stream; used at shutdown
// because http.Server.Shutdown does not wait for or cancel long-lived responses.
func (h *Hub) Close() {
	var notify []*Subscription
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	close(h.done)
	for _, m := range h.subs {
		for s := range m {
			s.end()
			if s.notify != nil {
				notify = append(notify, s)
			}
		}
	}
	h.subs = nil
	h.n = 0
	h.mu.Unlock()
	for _, s := range notify {
		s.notify()
	}
}

// Done is closed when the hub is closed.
func (h *Hub) Done() <-chan struct{} { return h.done }
