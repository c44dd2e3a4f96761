package servicebus

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// Dead-letter reasons shared by every consumer, so that the same fault reads the
// same in any dead-letter queue whichever service put it there.
const (
	// ReasonInvalidMessage: the body is not a well-formed event (not a CloudEvent,
	// or its data does not decode).
	ReasonInvalidMessage = "InvalidMessage"
	// ReasonUnsupportedEvent: a well-formed event of a type or version the
	// consumer does not handle.
	ReasonUnsupportedEvent = "UnsupportedEvent"
)

// Default backoff between failed receives: short enough that a broker restart
// costs little, capped so that a long outage is not hammered.
const (
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// MessageReceiver is the part of *Receiver a Loop uses (a seam for tests).
type MessageReceiver interface {
	Receive(ctx context.Context, max int) ([]*Message, error)
}

// Flow lets a consumer that holds messages after handing them off (processing
// them concurrently, prefetching) bound how many it holds: the loop asks it how
// many the next receive may take instead of using a fixed batch.
type Flow interface {
	// Acquire waits until the consumer can take at least one more message and
	// returns how many it can take now, or 0 once ctx is done.
	Acquire(ctx context.Context) int
	// Release gives back room for n messages. The loop calls it for what a
	// receive asked for and did not get; the consumer, for each message it is
	// done with.
	Release(n int)
}

// Loop is the receive loop both services run: it receives, hands every message
// to a handler, and retries failed receives with exponential backoff,
// remembering the last failure for the readiness check. A receive failure (the
// broker restarting, a token not yet valid) never ends it: the consumer waits
// for the broker rather than the process exiting, and readiness reports it.
//
// The loop owns receiving only. Settling, tracing, concurrency, lock renewal
// and what to do with a message received as the loop stops are the handler's,
// so each consumer keeps its policy in one place and the loop stays the same
// for both.
//
// Set the fields before Run; a Loop must not be copied once used.
type Loop struct {
	Receiver MessageReceiver
	// Batch is how many messages one receive asks for when Flow is nil (default 1).
	Batch int
	// Flow, when set, sizes each receive instead of Batch.
	Flow Flow
	// MinBackoff and MaxBackoff bound the wait after a failed receive: it starts
	// at MinBackoff, doubles with each consecutive failure up to MaxBackoff, and
	// resets after a receive that works (defaults DefaultMinBackoff, DefaultMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// Name says what is received from, for the log line (e.g. "queue orders").
	Name string
	Log  *slog.Logger

	lastErr atomic.Pointer[error]
	// after is time.After, replaced by tests to observe and skip the waits.
	after func(time.Duration) <-chan time.Time
}

// Err reports the last receive failure, or nil if the last receive worked. Before
// the first receive returns there is no failure to report, so that is nil too.
func (l *Loop) Err() error {
	if p := l.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Run receives until ctx is done, then returns.
//
// handle gets every message a receive returns, in order and on Run's goroutine:
// those returned together with an error (a receive may fail after taking some),
// and those returned by a receive that raced the stop (the SDK hands back what
// arrived and drops the cancellation), with ctx already done. Those are the
// consumer's to release; Run never drops a message it received.
func (l *Loop) Run(ctx context.Context, handle func(context.Context, *Message)) {
	log := l.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	minB, maxB := l.MinBackoff, l.MaxBackoff
	if minB <= 0 {
		minB = DefaultMinBackoff
	}
	if maxB <= 0 {
		maxB = DefaultMaxBackoff
	}
	maxB = max(maxB, minB)
	after := l.after
	if after == nil {
		after = time.After
	}

	backoff := minB
	for ctx.Err() == nil {
		n := max(l.Batch, 1)
		if l.Flow != nil {
			if n = l.Flow.Acquire(ctx); n <= 0 {
				return
			}
		}
		msgs, err := l.Receiver.Receive(ctx, n)
		if l.Flow != nil && len(msgs) < n {
			l.Flow.Release(n - len(msgs))
		}
		if err == nil {
			// The broker answered: healthy again from now, not only once the
			// handler is through with the batch.
			l.lastErr.Store(nil)
			backoff = minB
		}
		for _, m := range msgs {
			handle(ctx, m)
		}
		if ctx.Err() != nil {
			// A receive cut short by the stop is not a failure of the broker.
			return
		}
		if err != nil {
			l.lastErr.Store(&err)
			log.WarnContext(ctx, "receive failed; retrying", "from", l.Name, "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-after(backoff):
			}
			backoff = min(backoff*2, maxB)
		}
	}
}
