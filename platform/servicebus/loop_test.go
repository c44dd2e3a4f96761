package servicebus

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// result is one scripted answer of fakeReceiver.
type result struct {
	msgs []*Message
	err  error
	// stop, when set, is called before answering: the receive races the stop.
	stop func()
}

// fakeReceiver answers receives from a script, then blocks until ctx is done
// and answers ctx.Err(), as the SDK does for a receive that gets nothing.
type fakeReceiver struct {
	mu     sync.Mutex
	script []result
	maxes  []int         // the max of every receive
	idle   chan struct{} // closed when the script is used up and a receive waits
}

func newFakeReceiver(script ...result) *fakeReceiver {
	return &fakeReceiver{script: script, idle: make(chan struct{})}
}

func (r *fakeReceiver) Receive(ctx context.Context, max int) ([]*Message, error) {
	r.mu.Lock()
	r.maxes = append(r.maxes, max)
	if len(r.script) > 0 {
		res := r.script[0]
		r.script = r.script[1:]
		r.mu.Unlock()
		if res.stop != nil {
			res.stop()
		}
		return res.msgs, res.err
	}
	select {
	case <-r.idle:
	default:
		close(r.idle)
	}
	r.mu.Unlock()
	<-ctx.Done()
	return nil, ctx.Err()
}

func msgs(ids ...string) []*Message {
	out := make([]*Message, len(ids))
	for i, id := range ids {
		out[i] = &Message{ID: id}
	}
	return out
}

// run starts l and returns a function that cancels it and waits for Run to end
// (after which the fakes may be read without their locks).
func run(t *testing.T, l *Loop, handle func(context.Context, *Message)) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx, handle) }()
	return func() {
		t.Helper()
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not end after its context was cancelled")
		}
	}
}

func waitIdle(t *testing.T, r *fakeReceiver) {
	t.Helper()
	select {
	case <-r.idle:
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not get through its script")
	}
}

func TestLoopBackoffGrowsAndResets(t *testing.T) {
	boom := errors.New("connection reset")
	r := newFakeReceiver(
		result{err: boom}, result{err: boom}, result{err: boom}, result{err: boom},
		result{msgs: msgs("a")},
		result{err: boom}, result{err: boom},
	)
	var mu sync.Mutex
	var waits []time.Duration
	l := &Loop{Receiver: r, MinBackoff: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond}
	l.after = func(d time.Duration) <-chan time.Time {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		c := make(chan time.Time, 1)
		c <- time.Time{} // skip the wait: only its length is under test
		return c
	}
	stop := run(t, l, func(context.Context, *Message) {})
	waitIdle(t, r)
	stop()

	ms := time.Millisecond
	want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 400 * ms, 100 * ms, 200 * ms}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(waits, want) {
		t.Errorf("waits = %v, want %v (doubling to the cap, reset by the receive that worked)", waits, want)
	}
}

func TestLoopKeepsAndClearsLastError(t *testing.T) {
	boom := errors.New("unauthorized")
	r := newFakeReceiver(result{err: boom}, result{msgs: msgs("a")})
	waiting := make(chan struct{})
	release := make(chan time.Time)
	l := &Loop{Receiver: r}
	l.after = func(time.Duration) <-chan time.Time { close(waiting); return release }
	if err := l.Err(); err != nil {
		t.Fatalf("Err before any receive = %v, want nil", err)
	}
	stop := run(t, l, func(context.Context, *Message) {})
	defer stop()

	<-waiting // backing off after the failure
	if err := l.Err(); !errors.Is(err, boom) {
		t.Errorf("Err after a failed receive = %v, want %v", err, boom)
	}
	close(release)
	waitIdle(t, r)
	if err := l.Err(); err != nil {
		t.Errorf("Err after a receive that worked = %v, want nil", err)
	}
}

func TestLoopEndsOnCancel(t *testing.T) {
	t.Run("while receiving", func(t *testing.T) {
		r := newFakeReceiver()
		l := &Loop{Receiver: r}
		stop := run(t, l, func(context.Context, *Message) {})
		waitIdle(t, r)
		stop()
		if err := l.Err(); err != nil {
			t.Errorf("Err = %v: a receive cut short by the stop is not a failure", err)
		}
	})
	t.Run("while backing off", func(t *testing.T) {
		r := newFakeReceiver(result{err: errors.New("connection reset")})
		waiting := make(chan struct{})
		l := &Loop{Receiver: r}
		// A wait that never ends: only the cancellation can end Run.
		l.after = func(time.Duration) <-chan time.Time { close(waiting); return nil }
		stop := run(t, l, func(context.Context, *Message) {})
		<-waiting
		stop()
	})
	t.Run("with a flow that has no room", func(t *testing.T) {
		r := newFakeReceiver()
		l := &Loop{Receiver: r, Flow: &fakeFlow{room: 0}}
		stop := run(t, l, func(context.Context, *Message) {})
		stop()
		if len(r.maxes) != 0 {
			t.Errorf("receives = %v, want none without room", r.maxes)
		}
	})
}

func TestLoopHandsEveryMessage(t *testing.T) {
	r := newFakeReceiver(
		result{msgs: msgs("a", "b")},
		result{err: errors.New("connection reset")},
		result{msgs: msgs("c"), err: errors.New("link detached")}, // taken, then failed
		result{msgs: msgs("d")},
	)
	l := &Loop{Receiver: r, Batch: 4}
	l.after = func(time.Duration) <-chan time.Time { c := make(chan time.Time, 1); c <- time.Time{}; return c }
	var got []string
	stop := run(t, l, func(_ context.Context, m *Message) { got = append(got, m.ID) })
	waitIdle(t, r)
	stop()
	if want := []string{"a", "b", "c", "d"}; !slices.Equal(got, want) {
		t.Errorf("handled %v, want %v", got, want)
	}
	for _, m := range r.maxes {
		if m != 4 {
			t.Errorf("receive asked for %v, want Batch (4) every time", r.maxes)
			break
		}
	}
}

// TestLoopHandsMessagesReceivedAsItStops: a receive that raced the stop returns
// messages with no error; the handler still gets them (with ctx done, to release
// them), and the loop then ends without receiving again.
func TestLoopHandsMessagesReceivedAsItStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newFakeReceiver(result{msgs: msgs("a", "b"), stop: cancel}, result{msgs: msgs("never")})
	l := &Loop{Receiver: r}
	var got []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(ctx, func(ctx context.Context, m *Message) {
			if ctx.Err() == nil {
				t.Errorf("message %s handed over with a live context after the stop", m.ID)
			}
			got = append(got, m.ID)
		})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not end")
	}
	if want := []string{"a", "b"}; !slices.Equal(got, want) {
		t.Errorf("handled %v, want %v", got, want)
	}
}

// fakeFlow hands out room and records what is given back.
type fakeFlow struct {
	mu       sync.Mutex
	room     int
	acquired []int
	released int
}

func (f *fakeFlow) Acquire(ctx context.Context) int {
	f.mu.Lock()
	n := f.room
	f.room = 0
	f.acquired = append(f.acquired, n)
	f.mu.Unlock()
	if n == 0 {
		<-ctx.Done() // no room until the consumer releases some; here it never does
		return 0
	}
	return n
}

func (f *fakeFlow) Release(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released += n
	f.room += n
}

func TestLoopFlowSizesReceives(t *testing.T) {
	r := newFakeReceiver(result{msgs: msgs("a")}, result{err: errors.New("connection reset")})
	flow := &fakeFlow{room: 3}
	l := &Loop{Receiver: r, Flow: flow, Batch: 99}
	l.after = func(time.Duration) <-chan time.Time { c := make(chan time.Time, 1); c <- time.Time{}; return c }
	var held []*Message
	stop := run(t, l, func(_ context.Context, m *Message) { held = append(held, m) })
	waitIdle(t, r)
	stop()

	// 3 of room: the first receive asks for 3, gets 1 and gives 2 back; the
	// failed one asks for those 2 and gives them back; the last asks for 2 again
	// and, cut short by the stop, gives them back too.
	if want := []int{3, 2, 2}; !slices.Equal(r.maxes, want) {
		t.Errorf("receives asked for %v, want %v (the flow's room, not Batch)", r.maxes, want)
	}
	flow.mu.Lock()
	defer flow.mu.Unlock()
	if flow.released != 6 || len(held) != 1 {
		t.Errorf("released %d, held %d: the loop gives back what it did not get and keeps what it handed over", flow.released, len(held))
	}
}
