package worker

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/contoso/orderflow/platform/metrics"
	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/servicebus"
)

// Queue is the peek-lock receiver the worker needs (*servicebus.Receiver in
// production, a fake in tests).
type Queue interface {
	Receive(ctx context.Context, max int) ([]*servicebus.Message, error)
	Complete(ctx context.Context, m *servicebus.Message) error
	Abandon(ctx context.Context, m *servicebus.Message) error
	DeadLetter(ctx context.Context, m *servicebus.Message, reason, description string) error
	RenewLock(ctx context.Context, m *servicebus.Message) error
}

// Handler processes one message body (Processor.Process).
type Handler interface {
	Process(ctx context.Context, body []byte) error
}

// Worker receives messages and runs the handler on them.
type Worker struct {
	Queue   Queue
	Handler Handler
	Log     *slog.Logger

	// Concurrency is how many messages are processed at once (default 1).
	Concurrency int
	// Prefetch is how many more messages may be received and held, lock renewed,
	// waiting for a free slot (default 0).
	Prefetch int
	// LockRenewInterval is how often the lock of a held message is renewed (default 20s).
	LockRenewInterval time.Duration
	// ProcessingDelay pauses before each message is processed, its lock renewed, as
	// if the work were slow (WORKER_PROCESSING_DELAY, for the redelivery lab; 0 = none).
	ProcessingDelay time.Duration
	// ShutdownTimeout bounds how long Run waits for in-flight messages after its
	// context is cancelled; then their processing is cancelled and they are abandoned.
	ShutdownTimeout time.Duration
	// RetryBase and RetryMax shape the backoff before a failed message is abandoned:
	// RetryBase × 2^(deliveries−1), capped at RetryMax, with jitter (defaults 1s, 30s).
	// The wait holds the lock (renewed), so the redelivery comes after it.
	RetryBase, RetryMax time.Duration
	// SettleTimeout bounds each settlement call (default 30s).
	SettleTimeout time.Duration
	// Metrics receives the message metrics (processing time, deliveries,
	// dead-letters, lock renewals and losses); nil records them nowhere.
	Metrics *metrics.Metrics

	// loop receives; its fields are set by Run. It is a value so that Healthy
	// works (reporting nil) before Run starts.
	loop      servicebus.Loop
	processed atomic.Int64
}

// Processed returns how many messages were settled (completed or dead-lettered).
func (w *Worker) Processed() int64 { return w.processed.Load() }

// Healthy reports the last receive failure, or nil if the last receive worked.
func (w *Worker) Healthy() error { return w.loop.Err() }

func (w *Worker) defaults() {
	if w.Concurrency <= 0 {
		w.Concurrency = 1
	}
	if w.Prefetch < 0 {
		w.Prefetch = 0
	}
	if w.LockRenewInterval <= 0 {
		w.LockRenewInterval = 20 * time.Second
	}
	if w.ShutdownTimeout <= 0 {
		w.ShutdownTimeout = 25 * time.Second
	}
	if w.RetryBase <= 0 {
		w.RetryBase = time.Second
	}
	if w.RetryMax <= 0 {
		w.RetryMax = 30 * time.Second
	}
	if w.SettleTimeout <= 0 {
		w.SettleTimeout = 30 * time.Second
	}
	if w.Log == nil {
		w.Log = slog.New(slog.DiscardHandler)
	}
	if w.Metrics == nil {
		w.Metrics = discard // Run calls defaults before any goroutine starts
	}
}

// Run receives and processes messages until ctx is cancelled, then stops receiving
// and returns nil. It returns early only if it is misconfigured.
//
// On stop, every message received but not yet being processed (prefetched and
// waiting for a slot, or returned by a receive that raced the stop) is abandoned at
// once, so another replica gets it now rather than when its lock expires (a minute
// of delay otherwise). Messages in flight keep their renewed locks and get
// ShutdownTimeout to finish and be settled; past it their processing is cancelled and
// they are abandoned too. Nothing the worker holds is left locked when Run returns.
func (w *Worker) Run(ctx context.Context) error {
	w.defaults()
	if w.Queue == nil || w.Handler == nil {
		return errors.New("worker: Queue and Handler are required")
	}
	// work outlives ctx by up to ShutdownTimeout, so in-flight messages can finish.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()

	// The receive loop (backoff, last error) is servicebus.Loop; what is the
	// worker's stays here, each in one place:
	//   - how many messages it holds is held, the loop's Flow: a receive asks for
	//     exactly the room there is, so prefetch is bounded by the SDK's credit;
	//   - concurrency is slots, taken in handle;
	//   - lock renewal, settlement and abandon-on-stop are handle's. The loop
	//     hands over every message it received, even one from a receive that
	//     raced the stop, and handle abandons any message it gets once ctx is
	//     done, without processing it. So the loop needs no stop hook, and a
	//     message is released by the same code whether it was prefetched,
	//     waiting for a slot, or just received.
	held := make(credit, w.Concurrency+w.Prefetch) // messages received, not yet settled
	slots := make(chan struct{}, w.Concurrency)    // messages being processed
	var wg sync.WaitGroup
	w.loop.Receiver, w.loop.Flow, w.loop.Log, w.loop.Name = w.Queue, held, w.Log, "orders queue"
	w.loop.Run(ctx, func(recvCtx context.Context, m *servicebus.Message) {
		// handle blocks (for a slot, for processing), so each message gets its own
		// goroutine; held bounds how many there are.
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer held.Release(1)
			w.handle(recvCtx, work, slots, m)
		}()
	})

	// Stopped receiving. Wait for in-flight work, then cut it short.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(w.ShutdownTimeout):
		w.Log.Warn("shutdown timeout: cancelling in-flight messages", "timeout", w.ShutdownTimeout)
		cancelWork()
		<-done
	}
	return nil
}

// process runs the handler after ProcessingDelay. A lock lost or a shutdown cut
// short during the pause ends it with the context's error, as it would the handler.
func (w *Worker) process(ctx context.Context, body []byte) error {
	if w.ProcessingDelay > 0 {
		t := time.NewTimer(w.ProcessingDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return w.Handler.Process(ctx, body)
}

// handle holds one message from receipt to settlement: renews its lock while it waits
// for a slot and while it is processed, then completes, dead-letters or abandons it.
func (w *Worker) handle(recvCtx, work context.Context, slots chan struct{}, m *servicebus.Message) {
	// The consumer span continues the trace of the request that placed the order;
	// everything the processor does (Cosmos, Key Vault, Blob, the topic) is its child,
	// and every log line below carries its trace and span IDs.
	ctx, span := servicebus.StartProcess(work, m)
	var disposition string
	var err error
	defer func() { servicebus.EndProcess(span, disposition, err) }()
	log := w.Log.With("message_id", m.ID, "delivery_count", m.DeliveryCount)

	procCtx, cancelProc := context.WithCancel(ctx)
	defer cancelProc()
	lockLost := make(chan struct{})
	stopRenew := w.renewLoop(procCtx, m, func() { close(lockLost); cancelProc() }, log)
	defer stopRenew()

	// A prefetched message waits for a slot; on shutdown it is released unprocessed.
	// The stop is checked before and after taking the slot because select picks at
	// random among ready cases: a free slot must not win over a stop.
	abandon := func() {
		if w.settle(ctx, log, "abandon", func(c context.Context) error { return w.Queue.Abandon(c, m) }) {
			disposition = "abandon"
		}
	}
	if recvCtx.Err() != nil {
		abandon()
		return
	}
	select {
	case slots <- struct{}{}:
	case <-recvCtx.Done():
		abandon()
		return
	case <-lockLost:
		return // the broker took the message back while it waited
	}
	if recvCtx.Err() != nil {
		<-slots
		abandon()
		return
	}
	// From here the message counts as processed: its time runs to settlement (or to
	// the decision not to settle), labelled with the disposition.
	w.Metrics.MessageDeliveries.Observe(float64(m.DeliveryCount))
	procStart := time.Now()
	defer func() {
		d := disposition
		if d == "" {
			d = "none" // lock lost, or the settlement failed: the broker redelivers
		}
		w.Metrics.MessageProcessing.WithLabelValues(d).Observe(time.Since(procStart).Seconds())
	}()
	err = w.process(procCtx, m.Body)
	<-slots

	select {
	case <-lockLost:
		// Someone else may hold the message now; settling would fail. The work done
		// so far is idempotent, so the redelivery finishes it.
		log.WarnContext(ctx, "lock lost while processing; leaving the message to its redelivery", "err", err)
		return
	default:
	}

	var dl *DeadLetterError
	switch {
	case err == nil:
		if w.settle(ctx, log, "complete", func(c context.Context) error { return w.Queue.Complete(c, m) }) {
			disposition = "complete"
			w.processed.Add(1)
		}
	case errors.As(err, &dl):
		log.WarnContext(ctx, "dead-lettering message", "reason", dl.Reason, "description", dl.Description, "err", err)
		if w.settle(ctx, log, "dead-letter", func(c context.Context) error { return w.Queue.DeadLetter(c, m, dl.Reason, dl.Description) }) {
			disposition = "dead_letter"
			w.processed.Add(1)
			w.Metrics.DeadLetters.WithLabelValues(dl.Reason).Inc()
		}
	case !orders.IsRetryable(err) && work.Err() == nil:
		// A permanent failure that is not the message's fault: retrying cannot fix it.
		log.ErrorContext(ctx, "dead-lettering message after a permanent failure", "code", orders.ErrorCode(err), "err", err)
		if w.settle(ctx, log, "dead-letter", func(c context.Context) error {
			return w.Queue.DeadLetter(c, m, ReasonProcessingFailed, orders.ErrorMessage(err))
		}) {
			disposition = "dead_letter"
			w.processed.Add(1)
			w.Metrics.DeadLetters.WithLabelValues(ReasonProcessingFailed).Inc()
		}
	default:
		// Transient: wait (holding the renewed lock) so the redelivery is not
		// immediate, then abandon. The queue's max delivery count ends the retries
		// in the dead-letter queue. On shutdown, abandon at once.
		d := w.backoff(m.DeliveryCount)
		log.WarnContext(ctx, "processing failed; will retry", "err", err, "retry_in", d)
		select {
		case <-time.After(d):
		case <-recvCtx.Done():
		case <-procCtx.Done():
		}
		select {
		case <-lockLost:
			return
		default:
		}
		abandon()
	}
}

// credit is the worker's servicebus.Flow: one token per message held, from
// receipt to settlement, Concurrency+Prefetch in all.
type credit chan struct{}

// Acquire waits for room for one message, then takes all the room there is:
// that is how many the next receive asks for (the SDK grants exactly that much
// link credit).
func (c credit) Acquire(ctx context.Context) int {
	select {
	case c <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	n := 1
	for n < cap(c) {
		select {
		case c <- struct{}{}:
			n++
			continue
		default:
		}
		break
	}
	return n
}

// Release frees room for n messages.
func (c credit) Release(n int) {
	for range n {
		<-c
	}
}

// renewLoop renews m's lock every LockRenewInterval until the returned stop is called.
// On a lost lock it calls lost once and stops.
func (w *Worker) renewLoop(ctx context.Context, m *servicebus.Message, lost func(), log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(w.LockRenewInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := w.Queue.RenewLock(ctx, m); err != nil {
				if ctx.Err() != nil {
					return
				}
				if errors.Is(err, servicebus.ErrLockLost) {
					w.Metrics.LockLosses.Inc()
					lost()
					return
				}
				// Transient: try again next tick; the lock is still valid for a while.
				w.Metrics.LockRenewals.WithLabelValues(metrics.OutcomeError).Inc()
				log.WarnContext(ctx, "lock renewal failed", "err", err)
				continue
			}
			w.Metrics.LockRenewals.WithLabelValues(metrics.OutcomeOK).Inc()
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// settle runs one settlement with its own timeout (the work context may be cancelled
// by then), logging a failure: an unsettled message is redelivered after its lock
// expires, which the processor tolerates.
func (w *Worker) settle(ctx context.Context, log *slog.Logger, what string, f func(context.Context) error) bool {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.SettleTimeout)
	defer cancel()
	if err := f(c); err != nil {
		log.WarnContext(ctx, what+" failed; the message will be redelivered", "err", err)
		return false
	}
	return true
}

// backoff returns the wait before the given delivery is retried.
func (w *Worker) backoff(delivery uint32) time.Duration {
	if delivery < 1 {
		delivery = 1
	}
	d := w.RetryBase << min(delivery-1, 20)
	if d <= 0 || d > w.RetryMax {
		d = w.RetryMax
	}
	// Equal jitter: spread retries of messages that failed together.
	return d/2 + rand.N(d/2+1)
}
