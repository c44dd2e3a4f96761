package hub

import (
	"fmt"
	"sync"
	"testing"
)

// take waits for s to be ready and returns what Take gives.
func take(t *testing.T, s *Subscription) ([]StatusEvent, bool) {
	t.Helper()
	<-s.Ready()
	return s.Take()
}

func TestHubFansOutPerOrder(t *testing.T) {
	h := NewHub()
	a1, a2, b := h.Subscribe("a"), h.Subscribe("a"), h.Subscribe("b")
	defer a1.Close()
	defer a2.Close()
	defer b.Close()
	if n := h.Publish(StatusEvent{OrderID: "a", Status: "Completed"}); n != 2 {
		t.Fatalf("delivered to %d, want 2", n)
	}
	for _, s := range []*Subscription{a1, a2} {
		if evs, ended := take(t, s); len(evs) != 1 || evs[0].Status != "Completed" || ended {
			t.Errorf("got %+v ended %v", evs, ended)
		}
	}
	select {
	case <-b.Ready():
		evs, _ := b.Take()
		t.Errorf("order b got %+v", evs)
	default:
	}
}

func TestHubSlowSubscriberDoesNotBlock(t *testing.T) {
	h := NewHub()
	s := h.Subscribe("a")
	defer s.Close()
	delivered := 0
	for i := range subscriberBuffer * 3 {
		delivered += h.Publish(StatusEvent{OrderID: "a", Status: fmt.Sprint(i)})
	}
	if delivered != subscriberBuffer {
		t.Errorf("delivered %d, want %d", delivered, subscriberBuffer)
	}
	evs, _ := take(t, s)
	if len(evs) != subscriberBuffer {
		t.Fatalf("buffered %d, want %d", len(evs), subscriberBuffer)
	}
	// The first ones are kept, in order; the overflow is what was dropped.
	for i, ev := range evs {
		if ev.Status != fmt.Sprint(i) {
			t.Fatalf("event %d is %q, want %d", i, ev.Status, i)
		}
	}
	// Once the reader caught up, it gets events again.
	if n := h.Publish(StatusEvent{OrderID: "a", Status: "next"}); n != 1 {
		t.Errorf("after catching up delivered to %d, want 1", n)
	}
	if evs, _ := take(t, s); len(evs) != 1 || evs[0].Status != "next" {
		t.Errorf("after catching up got %+v", evs)
	}
}

func TestHubCloseEndsSubscriptions(t *testing.T) {
	h := NewHub()
	s := h.Subscribe("a")
	h.Publish(StatusEvent{OrderID: "a", Status: "Pending"})
	h.Close()
	// Events published before the close are still delivered, with the end.
	if evs, ended := take(t, s); len(evs) != 1 || !ended {
		t.Errorf("after Close got %+v ended %v, want the pending event and the end", evs, ended)
	}
	s.Close() // idempotent after the hub closed it
	late := h.Subscribe("a")
	if evs, ended := take(t, late); len(evs) != 0 || !ended {
		t.Error("subscription on a closed hub is open")
	}
	if n := h.Publish(StatusEvent{OrderID: "a"}); n != 0 {
		t.Errorf("closed hub delivered %d", n)
	}
	if h.Len() != 0 {
		t.Errorf("closed hub holds %d subscriptions", h.Len())
	}
	h.Close()
	<-h.Done()
}

func TestHubCloseOfSubscriptionEndsIt(t *testing.T) {
	h := NewHub()
	s := h.Subscribe("a")
	s.Close()
	if _, ended := take(t, s); !ended {
		t.Error("closed subscription not ended")
	}
	if n := h.Publish(StatusEvent{OrderID: "a"}); n != 0 {
		t.Errorf("closed subscription received %d", n)
	}
}

func TestHubConcurrent(t *testing.T) {
	h := NewHub()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				s := h.Subscribe("x")
				h.Publish(StatusEvent{OrderID: "x", Status: "Pending"})
				s.Close()
			}
		})
	}
	wg.Wait()
	if n := h.Subscribers("x"); n != 0 {
		t.Errorf("%d subscribers left", n)
	}
	if n := h.Len(); n != 0 {
		t.Errorf("%d subscriptions left", n)
	}
}

// TestHubForgetsClosedOrders: after a burst of subscriptions to many orders all
// closed, the hub holds none and has let its grown map go.
func TestHubForgetsClosedOrders(t *testing.T) {
	h := NewHub()
	subs := make([]*Subscription, 0, 1000)
	for i := range 1000 {
		subs = append(subs, h.Subscribe(fmt.Sprint("o-", i)))
	}
	if h.Len() != 1000 {
		t.Fatalf("Len %d, want 1000", h.Len())
	}
	for _, s := range subs {
		s.Close()
	}
	if h.Len() != 0 || len(h.subs) != 0 || h.peak != 0 {
		t.Errorf("after closing all: Len %d, orders %d, peak %d", h.Len(), len(h.subs), h.peak)
	}
}

// TestHubSubscribeFuncNotifies: a SubscribeFunc reader is notified of events and
// of the hub's close, outside the hub's lock (notify may Close), and not of its
// own Close.
func TestHubSubscribeFuncNotifies(t *testing.T) {
	h := NewHub()
	var s *Subscription
	calls := 0
	s = h.SubscribeFunc("a", func() {
		calls++
		evs, _ := s.Take()
		if len(evs) == 1 && evs[0].Status == "Completed" {
			s.Close() // would deadlock if notify ran under the hub's lock
		}
	})
	if n := h.Publish(StatusEvent{OrderID: "a", Status: "Pending"}); n != 1 || calls != 1 {
		t.Fatalf("Publish delivered %d, notify called %d times", n, calls)
	}
	h.Publish(StatusEvent{OrderID: "a", Status: "Completed"})
	if calls != 2 || h.Len() != 0 {
		t.Fatalf("notify called %d times, %d subscriptions left", calls, h.Len())
	}
	ended := 0
	var t2 *Subscription
	t2 = h.SubscribeFunc("b", func() {
		if _, e := t2.Take(); e {
			ended++
		}
	})
	h.Close()
	if ended != 1 {
		t.Errorf("hub close notified %d times, want 1", ended)
	}
}
