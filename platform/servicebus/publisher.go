package servicebus

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/contoso/orderflow/platform/metrics"
	"github.com/contoso/orderflow/platform/orders"
)

// Sources of the events, as CloudEvents source URI references.
const (
	SourceFrontend = "/orderflow/frontend"
	SourceBackend  = "/orderflow/backend"
)

// sender is the part of *azservicebus.Sender used here.
type sender interface {
	SendMessage(ctx context.Context, m *azservicebus.Message, o *azservicebus.SendMessageOptions) error
	Close(ctx context.Context) error
}

// Publisher sends OrderPlaced to the orders queue.
type Publisher struct {
	s       sender
	queue   string
	source  string
	now     func() time.Time
	metrics *metrics.Metrics // nil: not measured
}

var _ orders.Publisher = (*Publisher)(nil)

// NewPublisher opens a sender on queue; source names the producer (SourceFrontend).
func NewPublisher(c *azservicebus.Client, queue, source string, opts ...Option) (*Publisher, error) {
	s, err := c.NewSender(queue, nil)
	if err != nil {
		return nil, fmt.Errorf("sender for queue %s: %w", queue, err)
	}
	return &Publisher{s: s, queue: queue, source: source, now: time.Now, metrics: apply(opts).metrics}, nil
}

// PublishOrderPlaced implements orders.Publisher.
func (p *Publisher) PublishOrderPlaced(ctx context.Context, o *orders.Order) error {
	ev, err := orders.NewOrderPlacedEvent(o, p.source, p.now())
	if err != nil {
		return err
	}
	return send(ctx, p.s, p.metrics, p.queue, ev, fmt.Sprintf("send OrderPlaced for order %s", o.ID))
}

// Close closes the sender link.
func (p *Publisher) Close(ctx context.Context) error { return p.s.Close(ctx) }

// EventPublisher sends OrderCompleted to the order-events topic.
type EventPublisher struct {
	s       sender
	topic   string
	source  string
	metrics *metrics.Metrics // nil: not measured
}

var _ orders.EventPublisher = (*EventPublisher)(nil)

// NewEventPublisher opens a sender on topic; source names the producer (SourceBackend).
func NewEventPublisher(c *azservicebus.Client, topic, source string, opts ...Option) (*EventPublisher, error) {
	s, err := c.NewSender(topic, nil)
	if err != nil {
		return nil, fmt.Errorf("sender for topic %s: %w", topic, err)
	}
	return &EventPublisher{s: s, topic: topic, source: source, metrics: apply(opts).metrics}, nil
}

// PublishOrderCompleted implements orders.EventPublisher.
func (p *EventPublisher) PublishOrderCompleted(ctx context.Context, o *orders.Order, r *orders.Receipt) error {
	ev, err := orders.NewOrderCompletedEvent(o, r, p.source)
	if err != nil {
		return err
	}
	return send(ctx, p.s, p.metrics, p.topic, ev, fmt.Sprintf("publish OrderCompleted for order %s", o.ID))
}

// Close closes the sender link.
func (p *EventPublisher) Close(ctx context.Context) error { return p.s.Close(ctx) }

// NewMessage returns the Service Bus message carrying ev in structured mode: MessageId =
// the event ID, Subject = the event type (so subscriptions can filter on it without
// parsing bodies), and the trace context of ctx's span in the application properties
// (traceparent, mirrored in Diagnostic-Id; see PropertiesCarrier).
func NewMessage(ctx context.Context, ev orders.Event) (*azservicebus.Message, error) {
	body, err := ev.Encode()
	if err != nil {
		return nil, err
	}
	id, ct, subject := ev.ID, orders.ContentTypeCloudEvents, ev.Type
	props := map[string]any{
		"cloudEvents:specversion": ev.SpecVersion,
		"cloudEvents:type":        ev.Type,
	}
	propagator.Inject(ctx, PropertiesCarrier(props))
	return &azservicebus.Message{
		MessageID:             &id,
		ContentType:           &ct,
		Subject:               &subject,
		Body:                  body,
		ApplicationProperties: props,
	}, nil
}

// send sends ev to destination inside a producer span, whose context the message
// carries.
func send(ctx context.Context, s sender, mx *metrics.Metrics, destination string, ev orders.Event, what string) error {
	ctx, span := startSend(ctx, destination, ev.ID)
	m, err := NewMessage(ctx, ev)
	if err == nil {
		start := time.Now()
		err = s.SendMessage(ctx, m, nil)
		observe(mx, opSend, start, err)
		err = wrap(err, what)
	}
	endSpan(span, err)
	return err
}
