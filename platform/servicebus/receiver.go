package servicebus

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/contoso/orderflow/platform/metrics"
)

// Message is a received message as the worker sees it, free of SDK types so that
// tests can make one. Fields mirror azservicebus.ReceivedMessage.
type Message struct {
	ID            string
	Body          []byte
	ContentType   string
	Subject       string
	DeliveryCount uint32 // 1 on first delivery
	EnqueuedAt    time.Time
	LockedUntil   time.Time
	Properties    map[string]any
	// Entity is the queue or topic the message was received from, and Subscription
	// the topic subscription ("" for a queue): the consumer span's destination.
	Entity, Subscription string

	raw *azservicebus.ReceivedMessage
}

// Receiver is a peek-lock receiver on a queue or subscription.
type Receiver struct {
	r                    *azservicebus.Receiver
	entity, subscription string
	metrics              *metrics.Metrics // nil: not measured
}

// NewQueueReceiver opens a peek-lock receiver on queue.
func NewQueueReceiver(c *azservicebus.Client, queue string, opts ...Option) (*Receiver, error) {
	r, err := c.NewReceiverForQueue(queue, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModePeekLock})
	if err != nil {
		return nil, fmt.Errorf("receiver for queue %s: %w", queue, err)
	}
	return &Receiver{r: r, entity: queue, metrics: apply(opts).metrics}, nil
}

// NewSubscriptionReceiver opens a peek-lock receiver on a topic subscription.
func NewSubscriptionReceiver(c *azservicebus.Client, topic, subscription string, opts ...Option) (*Receiver, error) {
	r, err := c.NewReceiverForSubscription(topic, subscription, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModePeekLock})
	if err != nil {
		return nil, fmt.Errorf("receiver for %s/%s: %w", topic, subscription, err)
	}
	return &Receiver{r: r, entity: topic, subscription: subscription, metrics: apply(opts).metrics}, nil
}

// NewDeadLetterReceiver opens a peek-lock receiver on a queue's dead-letter queue
// (operations and tests).
func NewDeadLetterReceiver(c *azservicebus.Client, queue string, opts ...Option) (*Receiver, error) {
	r, err := c.NewReceiverForQueue(queue, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModePeekLock, SubQueue: azservicebus.SubQueueDeadLetter})
	if err != nil {
		return nil, fmt.Errorf("dead-letter receiver for queue %s: %w", queue, err)
	}
	return &Receiver{r: r, entity: queue + "/$deadletterqueue", metrics: apply(opts).metrics}, nil
}

// Receive waits for at least one message (until ctx is done) and returns up to max.
// The SDK issues link credit for exactly max per call, so max is the prefetch bound.
func (r *Receiver) Receive(ctx context.Context, max int) ([]*Message, error) {
	start := time.Now()
	ms, err := r.r.ReceiveMessages(ctx, max, nil)
	observe(r.metrics, opReceive, start, err)
	if err != nil {
		return nil, wrap(err, "receive messages")
	}
	out := make([]*Message, len(ms))
	for i, m := range ms {
		out[i] = fromReceived(m)
		out[i].Entity, out[i].Subscription = r.entity, r.subscription
	}
	return out, nil
}

func fromReceived(m *azservicebus.ReceivedMessage) *Message {
	out := &Message{ID: m.MessageID, Body: m.Body, DeliveryCount: m.DeliveryCount, Properties: m.ApplicationProperties, raw: m}
	if m.ContentType != nil {
		out.ContentType = *m.ContentType
	}
	if m.Subject != nil {
		out.Subject = *m.Subject
	}
	if m.EnqueuedTime != nil {
		out.EnqueuedAt = *m.EnqueuedTime
	}
	if m.LockedUntil != nil {
		out.LockedUntil = *m.LockedUntil
	}
	if out.Properties == nil {
		out.Properties = map[string]any{}
	}
	return out
}

// Complete removes the message from the queue: it was processed.
func (r *Receiver) Complete(ctx context.Context, m *Message) error {
	start := time.Now()
	err := r.r.CompleteMessage(ctx, m.raw, nil)
	observe(r.metrics, opComplete, start, err)
	return wrap(err, fmt.Sprintf("complete message %s", m.ID))
}

// Abandon releases the lock so the message is redelivered (its delivery count grows;
// at the queue's max delivery count the broker dead-letters it).
func (r *Receiver) Abandon(ctx context.Context, m *Message) error {
	start := time.Now()
	err := r.r.AbandonMessage(ctx, m.raw, nil)
	observe(r.metrics, opAbandon, start, err)
	return wrap(err, fmt.Sprintf("abandon message %s", m.ID))
}

// DeadLetter moves the message to the dead-letter queue with a reason (a short code)
// and a description, for a message that can never be processed.
func (r *Receiver) DeadLetter(ctx context.Context, m *Message, reason, description string) error {
	start := time.Now()
	err := r.r.DeadLetterMessage(ctx, m.raw, &azservicebus.DeadLetterOptions{Reason: &reason, ErrorDescription: &description})
	observe(r.metrics, opDeadLetter, start, err)
	return wrap(err, fmt.Sprintf("dead-letter message %s", m.ID))
}

// RenewLock extends the message's lock and updates m.LockedUntil.
func (r *Receiver) RenewLock(ctx context.Context, m *Message) error {
	start := time.Now()
	err := r.r.RenewMessageLock(ctx, m.raw, nil)
	observe(r.metrics, opRenewLock, start, err)
	if err != nil {
		return wrap(err, fmt.Sprintf("renew lock of message %s", m.ID))
	}
	if m.raw.LockedUntil != nil {
		m.LockedUntil = *m.raw.LockedUntil
	}
	return nil
}

// DeadLetterReason returns the dead-letter reason of a message read from a
// dead-letter queue.
func (m *Message) DeadLetterReason() (reason, description string) {
	if m.raw == nil {
		return "", ""
	}
	if m.raw.DeadLetterReason != nil {
		reason = *m.raw.DeadLetterReason
	}
	if m.raw.DeadLetterErrorDescription != nil {
		description = *m.raw.DeadLetterErrorDescription
	}
	return reason, description
}

// Close closes the receiver link; unsettled messages are redelivered after their
// locks expire.
func (r *Receiver) Close(ctx context.Context) error { return r.r.Close(ctx) }
