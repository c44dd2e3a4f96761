package feed

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/servicebus"
)

// fakeReceiver hands out queued batches and records settlements.
type fakeReceiver struct {
	mu          sync.Mutex
	batches     [][]*servicebus.Message
	errs        []error
	completed   []string
	deadLetters map[string]string
}

func (r *fakeReceiver) Receive(ctx context.Context, _ int) ([]*servicebus.Message, error) {
	r.mu.Lock()
	if len(r.errs) > 0 {
		err := r.errs[0]
		r.errs = r.errs[1:]
		r.mu.Unlock()
		return nil, err
	}
	if len(r.batches) > 0 {
		b := r.batches[0]
		r.batches = r.batches[1:]
		r.mu.Unlock()
		return b, nil
	}
	r.mu.Unlock()
	<-ctx.Done()
	return nil, ctx.Err()
}

func (r *fakeReceiver) Complete(_ context.Context, m *servicebus.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.completed = append(r.completed, m.ID)
	return nil
}

func (r *fakeReceiver) DeadLetter(_ context.Context, m *servicebus.Message, reason, _ string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deadLetters[m.ID] = reason
	return nil
}

type sink struct {
	mu  sync.Mutex
	ids []string
}

func (s *sink) PublishEvent(_ context.Context, e orders.Event) (int, error) {
	d, err := e.OrderCompleted()
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids = append(s.ids, d.OrderID)
	return 1, nil
}

func message(t *testing.T, id string, ev orders.Event) *servicebus.Message {
	t.Helper()
	b, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return &servicebus.Message{ID: id, Body: b}
}

func TestFeedDeliversAndSettles(t *testing.T) {
	o := &orders.Order{ID: "o-1", CustomerID: "c"}
	completed, err := orders.NewOrderCompletedEvent(o, &orders.Receipt{OrderID: "o-1", IssuedAt: time.Now(), KeyVersion: "v1"}, "/test")
	if err != nil {
		t.Fatal(err)
	}
	placed, err := orders.NewOrderPlacedEvent(o, "/test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeReceiver{
		errs: []error{errors.New("connection reset")},
		batches: [][]*servicebus.Message{{
			message(t, "m-completed", completed),
			message(t, "m-placed", placed),
			{ID: "m-garbage", Body: []byte("not json")},
		}},
		deadLetters: map[string]string{},
	}
	s := &sink{}
	f := New(r, s, nil)
	f.MaxBackoff = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()

	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		n := len(r.completed) + len(r.deadLetters)
		r.mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("messages not settled")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := f.Check(ctx); err != nil {
		t.Errorf("Check after a good receive: %v", err)
	}
	cancel()
	<-done

	if len(s.ids) != 1 || s.ids[0] != "o-1" {
		t.Errorf("sink got %v", s.ids)
	}
	if len(r.completed) != 1 || r.completed[0] != "m-completed" {
		t.Errorf("completed %v", r.completed)
	}
	if r.deadLetters["m-placed"] != "UnsupportedEvent" || r.deadLetters["m-garbage"] != servicebus.ReasonInvalidMessage {
		t.Errorf("dead letters %v", r.deadLetters)
	}
}

func TestFeedCheckReportsFailure(t *testing.T) {
	r := &fakeReceiver{deadLetters: map[string]string{}}
	for range 100 {
		r.errs = append(r.errs, errors.New("unauthorized"))
	}
	f := New(r, &sink{}, nil)
	f.MaxBackoff = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for f.Check(ctx) == nil {
		if time.Now().After(deadline) {
			t.Fatal("Check never reported the failing receive")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFeedDropsRedeliveredEvent delivers one OrderCompleted twice, as two
// messages (the worker re-published it after a crash, past the topic's
// duplicate detection): the hub gets it once and both messages are settled.
func TestFeedDropsRedeliveredEvent(t *testing.T) {
	o := &orders.Order{ID: "o-dup", CustomerID: "c"}
	ev, err := orders.NewOrderCompletedEvent(o, &orders.Receipt{OrderID: "o-dup", IssuedAt: time.Now(), KeyVersion: "v1"}, "/test")
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeReceiver{
		batches:     [][]*servicebus.Message{{message(t, "m-1", ev)}, {message(t, "m-2", ev)}},
		deadLetters: map[string]string{},
	}
	s := &sink{}
	f := New(r, s, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		n := len(r.completed)
		r.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("messages not settled")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if len(s.ids) != 1 {
		t.Errorf("sink got %v, want the event once", s.ids)
	}
}

func TestIDSetForgetsOldest(t *testing.T) {
	s := newIDSet(2)
	s.add("a")
	s.add("b")
	s.add("a") // refreshed: b is now the oldest
	s.add("c")
	if !s.has("a") || s.has("b") || !s.has("c") || s.order.Len() != 2 {
		t.Errorf("a=%v b=%v c=%v len=%d", s.has("a"), s.has("b"), s.has("c"), s.order.Len())
	}
}
