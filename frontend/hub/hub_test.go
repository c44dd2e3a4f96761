package hub

import (
	"sync"
	"testing"
)

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
		if ev := <-s.Events(); ev.Status != "Completed" {
			t.Errorf("got %+v", ev)
		}
	}
	select {
	case ev := <-b.Events():
		t.Errorf("order b got %+v", ev)
	default:
	}
}

func TestHubSlowSubscriberDoesNotBlock(t *testing.T) {
	h := NewHub()
	s := h.Subscribe("a")
	defer s.Close()
	for range subscriberBuffer * 3 {
		h.Publish(StatusEvent{OrderID: "a", Status: "Pending"})
	}
	if len(s.Events()) != subscriberBuffer {
		t.Errorf("buffered %d, want %d", len(s.Events()), subscriberBuffer)
	}
}

func TestHubCloseEndsSubscriptions(t *testing.T) {
	h := NewHub()
	s := h.Subscribe("a")
	h.Close()
	if _, ok := <-s.Events(); ok {
		t.Error("subscription still open after Close")
	}
	s.Close() // idempotent after the hub closed it
	late := h.Subscribe("a")
	if _, ok := <-late.Events(); ok {
		t.Error("subscription on a closed hub is open")
	}
	if n := h.Publish(StatusEvent{OrderID: "a"}); n != 0 {
		t.Errorf("closed hub delivered %d", n)
	}
	h.Close()
	<-h.Done()
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
}
