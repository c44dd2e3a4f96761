package orders

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// The CloudEvents 1.0 contract of the messages on the orders queue and the
// order-events topic. The type names carry a major version: a breaking change to a
// payload gets a new type (….v2) published alongside the old one until every consumer
// moved, and consumers dead-letter types they do not know.
const (
	SpecVersion        = "1.0"
	TypeOrderPlaced    = "com.contoso.orderflow.order.placed.v1"
	TypeOrderCompleted = "com.contoso.orderflow.order.completed.v1"
	// ContentTypeCloudEvents is the Service Bus message ContentType of a structured-mode
	// CloudEvent (the whole envelope is the message body).
	ContentTypeCloudEvents = "application/cloudevents+json; charset=utf-8"
	// TraceparentProperty is the message application property carrying the W3C trace
	// context of the request that caused the event.
	TraceparentProperty = "traceparent"
	// MaxEventBytes bounds an event envelope; anything larger is not ours.
	MaxEventBytes = 256 << 10
)

// Event is a CloudEvents 1.0 envelope in the JSON structured format.
type Event struct {
	SpecVersion     string          `json:"specversion"`
	Type            string          `json:"type"`
	Source          string          `json:"source"`
	ID              string          `json:"id"`
	Time            time.Time       `json:"time"`
	Subject         string          `json:"subject,omitempty"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// OrderPlacedData is the data of an OrderPlaced event. The worker reads the order from
// the store rather than trusting this copy; the IDs are what it needs to find it.
type OrderPlacedData struct {
	OrderID    string    `json:"orderId"`
	CustomerID string    `json:"customerId"`
	Items      []Item    `json:"items"`
	Total      int64     `json:"total"`
	CreatedAt  time.Time `json:"createdAt"`
}

// OrderCompletedData is the data of an OrderCompleted event.
type OrderCompletedData struct {
	OrderID     string    `json:"orderId"`
	CustomerID  string    `json:"customerId"`
	Total       int64     `json:"total"`
	ReceiptBlob string    `json:"receiptBlob"`
	KeyVersion  string    `json:"keyVersion"`
	CompletedAt time.Time `json:"completedAt"`
}

// PlacedEventID is the CloudEvent ID and Service Bus MessageId of an order's
// OrderPlaced: the order ID, so that every re-send is a duplicate of the first.
func PlacedEventID(orderID string) string { return orderID }

// CompletedEventID is the CloudEvent ID and Service Bus MessageId of an order's
// OrderCompleted.
func CompletedEventID(orderID string) string { return orderID + "-completed" }

// OrderSubject is the CloudEvent subject of an order's events.
func OrderSubject(orderID string) string { return "orders/" + orderID }

// NewOrderPlacedEvent returns the OrderPlaced event of o from source (a URI reference
// naming the producer, e.g. "/orderflow/frontend").
func NewOrderPlacedEvent(o *Order, source string, now time.Time) (Event, error) {
	return newEvent(TypeOrderPlaced, source, PlacedEventID(o.ID), o.ID, now, OrderPlacedData{
		OrderID: o.ID, CustomerID: o.CustomerID, Items: o.Items, Total: o.Total, CreatedAt: o.CreatedAt,
	})
}

// NewOrderCompletedEvent returns the OrderCompleted event of o with its receipt. Its
// time is the receipt's issue time so that a re-published event is byte-identical.
func NewOrderCompletedEvent(o *Order, r *Receipt, source string) (Event, error) {
	return newEvent(TypeOrderCompleted, source, CompletedEventID(o.ID), o.ID, r.IssuedAt, OrderCompletedData{
		OrderID: o.ID, CustomerID: o.CustomerID, Total: r.Total,
		ReceiptBlob: ReceiptBlobName(o.ID), KeyVersion: r.KeyVersion, CompletedAt: r.IssuedAt,
	})
}

func newEvent(typ, source, id, orderID string, now time.Time, data any) (Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s data: %w", typ, err)
	}
	return Event{
		SpecVersion: SpecVersion, Type: typ, Source: source, ID: id, Time: now.UTC(),
		Subject: OrderSubject(orderID), DataContentType: "application/json", Data: b,
	}, nil
}

// Encode returns the structured-mode JSON of the event.
func (e Event) Encode() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return b, nil
}

// DecodeEvent parses a structured-mode CloudEvent and checks the required attributes.
// Errors are EINVALID for malformed envelopes and EUNSUPPORTED for a specversion other
// than 1.0; the type is checked by the typed accessors (OrderPlaced, OrderCompleted).
func DecodeEvent(b []byte) (Event, error) {
	if len(b) > MaxEventBytes {
		return Event{}, Errorf(ETOOLARGE, "The event is %d bytes, more than %d.", len(b), MaxEventBytes)
	}
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, WrapError(EINVALID, "The message is not a JSON CloudEvent.", err)
	}
	switch {
	case e.SpecVersion != SpecVersion:
		return Event{}, Errorf(EUNSUPPORTED, "CloudEvents specversion %q is not supported (want %q).", e.SpecVersion, SpecVersion)
	case e.Type == "" || e.Source == "" || e.ID == "":
		return Event{}, Errorf(EINVALID, "The CloudEvent lacks type, source or id.")
	case e.DataContentType != "" && e.DataContentType != "application/json":
		return Event{}, Errorf(EUNSUPPORTED, "CloudEvent datacontenttype %q is not supported.", e.DataContentType)
	}
	return e, nil
}

// OrderPlaced returns the event's data if it is an OrderPlaced (EUNSUPPORTED for other
// types, EINVALID for malformed data).
func (e Event) OrderPlaced() (OrderPlacedData, error) {
	var d OrderPlacedData
	if err := e.decodeData(TypeOrderPlaced, &d); err != nil {
		return d, err
	}
	if ValidateOrderID(d.OrderID) != nil || ValidateCustomerID(d.CustomerID) != nil {
		return d, Errorf(EINVALID, "The OrderPlaced event %s has an invalid order or customer ID.", e.ID)
	}
	return d, nil
}

// OrderCompleted returns the event's data if it is an OrderCompleted (EUNSUPPORTED for
// other types, EINVALID for malformed data).
func (e Event) OrderCompleted() (OrderCompletedData, error) {
	var d OrderCompletedData
	if err := e.decodeData(TypeOrderCompleted, &d); err != nil {
		return d, err
	}
	if ValidateOrderID(d.OrderID) != nil {
		return d, Errorf(EINVALID, "The OrderCompleted event %s has an invalid order ID.", e.ID)
	}
	return d, nil
}

func (e Event) decodeData(typ string, dst any) error {
	if e.Type != typ {
		return Errorf(EUNSUPPORTED, "Event type %q is not %q.", e.Type, typ)
	}
	if len(bytes.TrimSpace(e.Data)) == 0 || bytes.Equal(bytes.TrimSpace(e.Data), []byte("null")) {
		return Errorf(EINVALID, "The %s event %s has no data.", typ, e.ID)
	}
	if err := json.Unmarshal(e.Data, dst); err != nil {
		return WrapError(EINVALID, fmt.Sprintf("The %s event %s has malformed data.", typ, e.ID), err)
	}
	return nil
}
