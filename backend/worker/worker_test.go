package worker

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/servicebus"
)

func fastWorker(b *fakeBroker, h Handler) *Worker {
	return &Worker{Queue: b, Handler: h, Concurrency: 2, LockRenewInterval: 10 * time.Millisecond,
		RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond, ShutdownTimeout: 2 * time.Second}
}

func runWorker(t *testing.T, w *Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("worker did not stop")
		}
	}
}

func TestWorkerEndToEndWithRedelivery(t *testing.T) {
	e := newEnv(t)
	b := newBroker()
	// The broker delivers the same message twice (a duplicate after the detection
	// window), and Blob Storage fails twice along the way.
	fails := 2
	var mu sync.Mutex
	e.receipts.Fail = func(string) error {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return orders.Errorf(orders.EUNAVAILABLE, "blob down")
		}
		return nil
	}
	b.send(e.order.ID, e.body)
	b.send(e.order.ID, e.body)
	stop := runWorker(t, fastWorker(b, e.proc))
	if !b.waitSettled(2, 10*time.Second) {
		t.Fatal("messages not settled")
	}
	stop()
	completed, abandoned, dead := b.snapshot()
	if len(completed) != 2 || len(abandoned) != 2 || len(dead) != 0 {
		t.Errorf("completed=%v abandoned=%v dead=%v", completed, abandoned, dead)
	}
	e.assertConverged(t)
}

func TestWorkerDeadLettersInvalidAndExhausted(t *testing.T) {
	e := newEnv(t)
	b := newBroker()
	b.maxDelivery = 3
	b.send("garbage", []byte("not json"))
	b.send(e.order.ID, e.body)
	e.secrets.Fail = func(string) error { return orders.Errorf(orders.EUNAVAILABLE, "key vault down") }
	stop := runWorker(t, fastWorker(b, e.proc))
	if !b.waitSettled(2, 10*time.Second) {
		t.Fatal("messages not settled")
	}
	stop()
	_, abandoned, dead := b.snapshot()
	if dead["garbage"] != ReasonInvalidMessage {
		t.Errorf("invalid message: dead = %v", dead)
	}
	if dead[e.order.ID] != "MaxDeliveryCountExceeded" || len(abandoned) != 3 {
		t.Errorf("transient failure: dead = %v, abandoned = %v, want 3 deliveries then the DLQ", dead, abandoned)
	}
}

// slowHandler blocks until released, counting concurrency.
type slowHandler struct {
	release  chan struct{}
	active   atomic.Int32
	maxSeen  atomic.Int32
	started  chan string
	canceled atomic.Int32
}

func (h *slowHandler) Process(ctx context.Context, body []byte) error {
	n := h.active.Add(1)
	defer h.active.Add(-1)
	for {
		m := h.maxSeen.Load()
		if n <= m || h.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	h.started <- string(body)
	select {
	case <-h.release:
		return nil
	case <-ctx.Done():
		h.canceled.Add(1)
		return ctx.Err()
	}
}

func TestWorkerConcurrencyRenewalAndPrefetch(t *testing.T) {
	b := newBroker()
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		b.send(id, []byte(id))
	}
	h := &slowHandler{release: make(chan struct{}), started: make(chan string, 10)}
	w := fastWorker(b, h)
	w.Prefetch = 1
	stop := runWorker(t, w)
	<-h.started
	<-h.started
	// Wait (bounded) for several renew intervals to pass while the messages are held.
	var ready, renewedA, renewedC int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b.mu.Lock()
		ready, renewedA, renewedC = len(b.ready), b.renewals["a"], b.renewals["c"]
		b.mu.Unlock()
		if renewedA >= 2 && renewedC >= 2 {
			break
		}
	}
	if h.maxSeen.Load() != 2 {
		t.Errorf("max concurrent = %d, want 2", h.maxSeen.Load())
	}
	// 2 processing + 1 prefetched are held; 2 remain at the broker.
	if ready != 2 {
		t.Errorf("messages left at the broker = %d, want 2 (concurrency 2 + prefetch 1 held)", ready)
	}
	if renewedA < 2 || renewedC < 2 {
		t.Errorf("lock renewals: a=%d c=%d, want the processing and the prefetched message renewed", renewedA, renewedC)
	}
	close(h.release)
	if !b.waitSettled(5, 10*time.Second) {
		t.Fatal("not all settled")
	}
	stop()
}

func TestWorkerGracefulShutdown(t *testing.T) {
	b := newBroker()
	b.send("stuck", []byte("stuck"))
	b.send("waiting", []byte("waiting"))
	h := &slowHandler{release: make(chan struct{}), started: make(chan string, 10)}
	w := fastWorker(b, h)
	w.Concurrency, w.Prefetch = 1, 1
	w.ShutdownTimeout = 100 * time.Millisecond
	stop := runWorker(t, w)
	<-h.started
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	stop() // never released: the deadline cancels it
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("shutdown took %v", took)
	}
	_, abandoned, _ := b.snapshot()
	if h.canceled.Load() != 1 || len(abandoned) != 2 {
		t.Errorf("canceled=%d abandoned=%v: the in-flight and the prefetched message must both be released", h.canceled.Load(), abandoned)
	}
}

func TestWorkerLockLostStopsWithoutSettling(t *testing.T) {
	b := newBroker()
	b.renewErr = servicebus.ErrLockLost
	b.send("m", []byte("m"))
	h := &slowHandler{release: make(chan struct{}), started: make(chan string, 10)}
	stop := runWorker(t, fastWorker(b, h))
	<-h.started
	deadline := time.Now().Add(5 * time.Second)
	for h.canceled.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	completed, abandoned, dead := b.snapshot()
	if h.canceled.Load() != 1 || len(completed)+len(abandoned)+len(dead) != 0 {
		t.Errorf("canceled=%d settled=%v/%v/%v: a lost lock cancels processing and settles nothing", h.canceled.Load(), completed, abandoned, dead)
	}
}

func TestWorkerReceiveErrorsAreRetried(t *testing.T) {
	e := newEnv(t)
	b := newBroker()
	b.receiveErr = orders.Errorf(orders.EUNAVAILABLE, "connection lost")
	b.send(e.order.ID, e.body)
	w := fastWorker(b, e.proc)
	stop := runWorker(t, w)
	if !b.waitSettled(1, 10*time.Second) {
		t.Fatal("not settled after a receive failure")
	}
	if w.Healthy() != nil {
		t.Errorf("Healthy = %v after a successful receive", w.Healthy())
	}
	stop()
	if w.Processed() != 1 {
		t.Errorf("processed = %d", w.Processed())
	}
}

// stopOnReceive is a queue whose receive races the stop: it takes messages from
// the broker, then the worker's context is cancelled before they are handed
// over, as when SIGTERM arrives while a receive is completing.
type stopOnReceive struct {
	*fakeBroker
	stop    context.CancelFunc
	withErr bool // also return the cancellation, as Queue allows
}

func (q *stopOnReceive) Receive(ctx context.Context, max int) ([]*servicebus.Message, error) {
	msgs, err := q.fakeBroker.Receive(ctx, max)
	if err != nil {
		return nil, err
	}
	q.stop()
	if q.withErr {
		return msgs, ctx.Err()
	}
	return msgs, nil // the SDK returns the messages and drops the cancellation
}

// countingHandler counts Process calls.
type countingHandler struct{ calls atomic.Int32 }

func (h *countingHandler) Process(context.Context, []byte) error { h.calls.Add(1); return nil }

// TestWorkerStopAbandonsReceivedMessages: messages received but not started when
// the worker stops must be abandoned at once, not left locked until their locks
// expire (the delay another replica saw on restart).
func TestWorkerStopAbandonsReceivedMessages(t *testing.T) {
	for _, withErr := range []bool{false, true} {
		b := newBroker()
		ids := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
		for _, id := range ids {
			b.send(id, []byte(id))
		}
		h := &countingHandler{}
		ctx, cancel := context.WithCancel(context.Background())
		w := fastWorker(b, h)
		w.Queue = &stopOnReceive{fakeBroker: b, stop: cancel, withErr: withErr}
		w.Concurrency, w.Prefetch = len(ids), 0
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("worker did not stop")
		}
		_, abandoned, _ := b.snapshot()
		if n := h.calls.Load(); n != 0 {
			t.Errorf("withErr=%v: %d message(s) processed after the stop", withErr, n)
		}
		slices.Sort(abandoned)
		if !slices.Equal(abandoned, ids) {
			t.Errorf("withErr=%v: abandoned %v, want all of %v", withErr, abandoned, ids)
		}
	}
}

// TestWorkerProcessingDelayHoldsTheLock: WORKER_PROCESSING_DELAY (the redelivery
// lab's slow work) pauses before the handler with the message's lock renewed, then
// processes and completes it as usual; a stop during the pause abandons it.
func TestWorkerProcessingDelayHoldsTheLock(t *testing.T) {
	b := newBroker()
	b.send("m", []byte("m"))
	h := &slowHandler{release: make(chan struct{}), started: make(chan string, 10)}
	close(h.release)
	w := fastWorker(b, h)
	w.ProcessingDelay = 300 * time.Millisecond
	start := time.Now()
	stop := runWorker(t, w)
	<-h.started
	if took := time.Since(start); took < w.ProcessingDelay {
		t.Errorf("handler started after %v, before the %v delay", took, w.ProcessingDelay)
	}
	if !b.waitSettled(1, 5*time.Second) {
		t.Fatal("not settled")
	}
	stop()
	b.mu.Lock()
	renewed := b.renewals["m"]
	b.mu.Unlock()
	if completed, _, _ := b.snapshot(); len(completed) != 1 || renewed < 2 {
		t.Errorf("completed=%v renewals=%d: the message must be completed, its lock renewed during the pause", completed, renewed)
	}

	// Stopped mid-pause: the handler never runs and the message goes back.
	b2 := newBroker()
	b2.send("n", []byte("n"))
	h2 := &slowHandler{release: make(chan struct{}), started: make(chan string, 10)}
	w2 := fastWorker(b2, h2)
	w2.ProcessingDelay = time.Hour
	w2.ShutdownTimeout = 50 * time.Millisecond
	stop2 := runWorker(t, w2)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b2.mu.Lock()
		n := b2.renewals["n"]
		b2.mu.Unlock()
		if n > 0 {
			break
		}
	}
	stop2()
	if _, abandoned, _ := b2.snapshot(); len(abandoned) != 1 || h2.active.Load() != 0 || len(h2.started) != 0 {
		t.Errorf("abandoned=%v started=%d: a stop during the pause must abandon the message unprocessed", abandoned, len(h2.started))
	}
}
