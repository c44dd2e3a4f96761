package hub

import "sync"

// Subscription receives the events of one order until it is closed or the hub is.
//
// An idle subscription holds no event buffer: events wait in a slice that exists
// only while some are undelivered, and a one-slot channel wakes the reader. A
// buffered channel of subscriberBuffer events per stream cost about 2.5 KiB for
// every open SSE stream, nearly all of it idle.
type Subscription struct {
	hub     *Hub
	orderID string
	// ready has room for one signal: a pending wake-up stands for any number of
	// offers, which the reader collects with one Take.
	ready chan struct{}
	// notify, when set (SubscribeFunc), is called after ready fires because of the
	// hub (an offer or the hub's Close), for a reader that has no goroutine waiting
	// on ready.
	notify func()

	mu      sync.Mutex
	pending []StatusEvent
	ended   bool
}

// Ready fires when events are waiting or the subscription has ended; call Take.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Take returns the events waiting, oldest first, and whether the subscription
// has ended (closed by its owner or by the hub). The reader handles the events
// before the end, as a channel delivers its buffer before reporting that it is
// closed: no further events follow an end.
func (s *Subscription) Take() (events []StatusEvent, ended bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	events, s.pending = s.pending, nil
	return events, s.ended
}

// Close unregisters the subscription; it is safe to call more than once.
func (s *Subscription) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.remove(s)
	}
	s.end()
}

// offer queues ev unless subscriberBuffer events are already waiting; it never
// blocks, so one slow client cannot hold up the hub. h.mu is held; the caller
// runs notify once it has let go of h.mu.
func (s *Subscription) offer(ev StatusEvent) bool {
	s.mu.Lock()
	if s.ended || len(s.pending) >= subscriberBuffer {
		s.mu.Unlock()
		return false
	}
	s.pending = append(s.pending, ev)
	s.mu.Unlock()
	s.wake()
	return true
}

// end marks the subscription ended and wakes its reader.
func (s *Subscription) end() {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.wake()
}

func (s *Subscription) wake() {
	select {
	case s.ready <- struct{}{}:
	default: // a wake-up is already pending
	}
}
