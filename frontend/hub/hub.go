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

// Hub fans status events out from the one receiver loop of the process to every
// SSE client watching that order. It holds no history: late clients get the
// current status from the store instead.
type Hub struct {
	mu     sync.Mutex
	subs   map[string]map[*Subscription]struct{}
	closed bool
	done   chan struct{}
}

// NewHub returns an empty, open hub.
func NewHub() *Hub {
	return &Hub{subs: make(map[string]map[*Subscription]struct{}), done: make(chan struct{})}
}

// Subscription receives the events of one order until it is closed or the hub is.
type Subscription struct {
	hub     *Hub
	orderID string
	ch      chan StatusEvent
	once    sync.Once
}

// Subscribe registers interest in orderID. The caller must Close the subscription.
// On a closed hub the returned subscription's channel is already closed.
func (h *Hub) Subscribe(orderID string) *Subscription {
	s := &Subscription{hub: h, orderID: orderID, ch: make(chan StatusEvent, subscriberBuffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.once.Do(func() { close(s.ch) })
		return s
	}
	m := h.subs[orderID]
	if m == nil {
		m = make(map[*Subscription]struct{})
		h.subs[orderID] = m
	}
	m[s] = struct{}{}
	return s
}

// Events is closed when the subscription or the hub is closed.
func (s *Subscription) Events() <-chan StatusEvent { return s.ch }

// Close unregisters the subscription; it is safe to call more than once.
func (s *Subscription) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := h.subs[s.orderID]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(h.subs, s.orderID)
		}
	}
	s.once.Do(func() { close(s.ch) })
}

// Publish hands ev to every subscriber of its order without blocking: a
// subscriber whose buffer is full misses the event (see subscriberBuffer).
// It reports how many subscribers received it.
func (h *Hub) Publish(ev StatusEvent) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return 0
	}
	n := 0
	for s := range h.subs[ev.OrderID] {
		select {
		case s.ch <- ev:
			n++
		default:
		}
	}
	return n
}

// Subscribers reports how many clients watch orderID (for tests and metrics).
func (h *Hub) Subscribers(orderID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[orderID])
}

// Close ends every subscription, which ends every SSE stream; used at shutdown
// because http.Server.Shutdown does not wait for or cancel long-lived responses.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	close(h.done)
	for id, m := range h.subs {
		for s := range m {
			s.once.Do(func() { close(s.ch) })
		}
		delete(h.subs, id)
	}
}

// Done is closed when the hub is closed.
func (h *Hub) Done() <-chan struct{} { return h.done }
