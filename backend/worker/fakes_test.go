package worker

import (
	"context"
	"sync"
	"time"

	"github.com/contoso/orderflow/platform/servicebus"
)

// fakeBroker is a peek-lock queue with Service Bus semantics that matter here:
// abandon redelivers with DeliveryCount+1, and at maxDelivery the broker
// dead-letters with MaxDeliveryCountExceeded.
type fakeBroker struct {
	mu          sync.Mutex
	cond        *sync.Cond
	ready       []*servicebus.Message
	maxDelivery uint32

	completed   []string
	abandoned   []string
	deadLetters map[string]string // message ID → reason
	renewals    map[string]int
	renewErr    error
	receiveErr  error
}

func newBroker() *fakeBroker {
	b := &fakeBroker{maxDelivery: 10, deadLetters: map[string]string{}, renewals: map[string]int{}}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *fakeBroker) send(id string, body []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ready = append(b.ready, &servicebus.Message{ID: id, Body: body, DeliveryCount: 1, Properties: map[string]any{}})
	b.cond.Broadcast()
}

func (b *fakeBroker) Receive(ctx context.Context, max int) ([]*servicebus.Message, error) {
	stop := context.AfterFunc(ctx, func() { b.mu.Lock(); b.cond.Broadcast(); b.mu.Unlock() })
	defer stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.receiveErr != nil {
		err := b.receiveErr
		b.receiveErr = nil
		return nil, err
	}
	for len(b.ready) == 0 {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		b.cond.Wait()
	}
	n := min(max, len(b.ready))
	out := b.ready[:n:n]
	b.ready = append([]*servicebus.Message(nil), b.ready[n:]...)
	for _, m := range out {
		m.LockedUntil = time.Now().Add(time.Minute)
	}
	return out, nil
}

func (b *fakeBroker) Complete(_ context.Context, m *servicebus.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.completed = append(b.completed, m.ID)
	b.cond.Broadcast()
	return nil
}

func (b *fakeBroker) Abandon(_ context.Context, m *servicebus.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.abandoned = append(b.abandoned, m.ID)
	if m.DeliveryCount >= b.maxDelivery {
		b.deadLetters[m.ID] = "MaxDeliveryCountExceeded"
	} else {
		c := *m
		c.DeliveryCount++
		b.ready = append(b.ready, &c)
	}
	b.cond.Broadcast()
	return nil
}

func (b *fakeBroker) DeadLetter(_ context.Context, m *servicebus.Message, reason, _ string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deadLetters[m.ID] = reason
	b.cond.Broadcast()
	return nil
}

func (b *fakeBroker) RenewLock(_ context.Context, m *servicebus.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.renewals[m.ID]++
	return b.renewErr
}

// waitSettled waits until n messages were completed or dead-lettered.
func (b *fakeBroker) waitSettled(n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { b.mu.Lock(); b.cond.Broadcast(); b.mu.Unlock() })
	defer timer.Stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.completed)+len(b.deadLetters) < n {
		if time.Now().After(deadline) {
			return false
		}
		b.cond.Wait()
	}
	return true
}

func (b *fakeBroker) snapshot() (completed, abandoned []string, dead map[string]string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	dead = map[string]string{}
	for k, v := range b.deadLetters {
		dead[k] = v
	}
	return append([]string(nil), b.completed...), append([]string(nil), b.abandoned...), dead
}
