package servicebus

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/telemetry"
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
	s      sender
	source string
	now    func() time.Time
}

var _ orders.Publisher = (*Publisher)(nil)

// NewPublisher opens a sender on queue; source names the producer (SourceFrontend).
func NewPublisher(c *azservicebus.Client, queue, source string) (*Publisher, error) {
	s, err := c.NewSender(queue, nil)
	if err != nil {
		return nil, fmt.Errorf("sender for queue %s: %w", queue, err)
	}
	return &Publisher{s: s, source: source, now: time.Now}, nil
}

// PublishOrderPlaced implements orders.Publisher.
func (p *Publisher) PublishOrderPlaced(ctx context.Context, o *orders.Order) error {
	ev, err := orders.NewOrderPlacedEvent(o, p.source, p.now())
	if err != nil {
		return err
	}
	return send(ctx, p.s, ev, fmt.Sprintf("send OrderPlaced for order %s", o.ID))
}

// Close closes the sender link.
func (p *Publisher) Close(ctx context.Context) error { return p.s.Close(ctx) }

// EventPublisher sends OrderCompleted to the order-events topic.
type EventPublisher struct {
	s      sender
	source string
}

var _ orders.EventPublisher = (*EventPublisher)(nil)

// NewEventPublisher opens a sender on topic; source names the producer (SourceBackend).
func NewEventPublisher(c *azservicebus.Client, topic, source string) (*EventPublisher, error) {
	s, err := c.NewSender(topic, nil)
	if err != nil {
		return nil, fmt.Errorf("sender for topic %s: %w", topic, err)
	}
	return &EventPublisher{s: s, source: source}, nil
}

// PublishOrderCompleted implements orders.EventPublisher.
func (p *EventPublisher) PublishOrderCompleted(ctx context.Context, o *orders.Order, r *orders.Receipt) error {
	ev, err := orders.NewOrderCompletedEvent(o, r, p.source)
	if err != nil {
		return err
	}
	return send(ctx, p.s, ev, fmt.Sprintf("publish OrderCompleted for order %s", o.ID))
}

// Close closes the sender link.
func (p *EventPublisher) Close(ctx context.Context) error { return p.s.Close(ctx) }

// NewMessage returns the Service Bus message carrying ev in structured mode: MessageId =
// the event ID, Subject = the event type (so subscriptions can filter on it without
// parsing bodies), and the traceparent of ctx in the application properties.
func NewMessage(ctx context.Context, ev orders.Event) (*azservicebus.Message, error) {
	body, err := ev.Encode()
	if err != nil {
		return nil, err
	}
	id, ct, subject := ev.ID, orders.ContentTypeCloudEvents, ev.Type
	return &azservicebus.Message{
		MessageID:   &id,
		ContentType: &ct,
		Subject:     &subject,
		Body:        body,
		ApplicationProperties: map[string]any{
			orders.TraceparentProperty: telemetry.Traceparent(ctx),
			"cloudEvents:specversion":  ev.SpecVersion,
			"cloudEvents:type":         ev.Type,
		},
	}, nil
}

func send(ctx context.Context, s sender, ev orders.Event, what string) error {
	m, err := NewMessage(ctx, ev)
	if err != nil {
		return err
	}
	return wrap(s.SendMessage(ctx, m, nil), what)
}
