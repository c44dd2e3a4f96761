package servicebusemu

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/contoso/orderflow/localazure/amqp"
)

// Annotation and property names Service Bus clients read.
const (
	annSequenceNumber   = "x-opt-sequence-number"
	annEnqueuedTime     = "x-opt-enqueued-time"
	annLockedUntil      = "x-opt-locked-until"
	annScheduledTime    = "x-opt-scheduled-enqueue-time"
	annDeadLetterSource = "x-opt-deadletter-source"
	annMessageState     = "x-opt-message-state"
	annLockToken        = "x-opt-lock-token"
	propDLReason        = "DeadLetterReason"
	propDLDescription   = "DeadLetterErrorDescription"
)

// msgData is the immutable part of a message as the sender sent it; a topic
// shares one among all the subscriptions it reaches.
type msgData struct {
	msg  *amqp.Message
	size int

	messageID, correlationID, subject, to, replyTo, replyToSessionID, sessionID, contentType string

	ttl       time.Duration // from the header; 0 = none
	scheduled time.Time     // x-opt-scheduled-enqueue-time; zero = none
	hops      int           // times auto-forwarded
}

func (m *msgData) appProps() map[string]any { return m.msg.ApplicationProperties }

// parseMessage decodes an encoded message into msgData. The message aliases b.
func parseMessage(b []byte) (*msgData, error) {
	var msg amqp.Message
	if err := msg.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("decoding message: %w", err)
	}
	d := dataOf(&msg, len(b))
	if d.messageID == "" {
		// Service Bus gives every message a message-id: one the sender left out is
		// assigned by the broker (32 hex digits), and clients rely on it (the
		// JavaScript SDK keys its lock renewal by messageId and fails to close a
		// receiver holding a message without one).
		if msg.Properties == nil {
			msg.Properties = &amqp.Properties{}
		}
		var id [16]byte
		_, _ = rand.Read(id[:])
		d.messageID = hex.EncodeToString(id[:])
		msg.Properties.MessageID = d.messageID
		msg.TouchProperties()
	}
	return d, nil
}

func dataOf(msg *amqp.Message, size int) *msgData {
	d := &msgData{msg: msg, size: size}
	if p := msg.Properties; p != nil {
		d.messageID = idString(p.MessageID)
		d.correlationID = idString(p.CorrelationID)
		d.subject, d.to, d.replyTo = p.Subject, p.To, p.ReplyTo
		d.replyToSessionID, d.sessionID, d.contentType = p.ReplyToGroupID, p.GroupID, string(p.ContentType)
	}
	if h := msg.Header; h != nil && h.TTL != nil && *h.TTL > 0 {
		d.ttl = time.Duration(*h.TTL) * time.Millisecond
	}
	if t, ok := msg.Annotations[amqp.Symbol(annScheduledTime)].(time.Time); ok {
		d.scheduled = t
	}
	return d
}

// idString renders a message-id or correlation-id of any of the AMQP id types.
func idString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case amqp.UUID:
		return x.String()
	case []byte:
		return hex.EncodeToString(x)
	case amqp.Symbol:
		return string(x)
	}
	return fmt.Sprint(v)
}

// withAppProps returns a copy of d whose application properties have extra set
// (used for the dead-letter reason); the body is shared.
func (d *msgData) withAppProps(extra map[string]any) *msgData {
	m := *d.msg
	props := make(map[string]any, len(d.msg.ApplicationProperties)+len(extra))
	for k, v := range d.msg.ApplicationProperties {
		props[k] = v
	}
	for k, v := range extra {
		props[k] = v
	}
	m.ApplicationProperties = props
	m.TouchApplicationProperties()
	c := *d
	c.msg = &m
	return &c
}

// newLockToken returns a random (version 4) UUID.
func newLockToken() amqp.UUID {
	var u amqp.UUID
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// dotnetGUID converts between RFC 4122 byte order and the .NET Guid byte order
// Service Bus uses for delivery tags (the first three groups are little-endian).
// The conversion is its own inverse.
func dotnetGUID(u amqp.UUID) []byte {
	b := make([]byte, 16)
	copy(b, u[:])
	b[0], b[1], b[2], b[3] = u[3], u[2], u[1], u[0]
	b[4], b[5] = u[5], u[4]
	b[6], b[7] = u[7], u[6]
	return b
}

// encodeDelivered encodes m as a consumer receives it: the sender's message
// with a header carrying the delivery count and the broker's annotations.
func encodeDelivered(m *message, lockedUntil time.Time, deliveryAnn map[any]any) ([]byte, error) {
	src := m.data.msg
	out := *src
	h := amqp.Header{Priority: 4}
	if src.Header != nil {
		h = *src.Header
	}
	h.DeliveryCount = m.deliveryCount
	if h.TTL == nil && !m.expires.IsZero() {
		// The entity's default time to live applied: report it, as Service Bus
		// does, so clients can compute ExpiresAt.
		ms := m.expires.Sub(m.enqueued).Milliseconds()
		if ms > 0 && ms <= int64(^uint32(0)) {
			ttl := uint32(ms)
			h.TTL = &ttl
		}
	}
	out.Header = &h
	ann := make(map[any]any, len(src.Annotations)+6)
	for k, v := range src.Annotations {
		ann[k] = v
	}
	ann[amqp.Symbol(annSequenceNumber)] = m.seq
	ann[amqp.Symbol(annEnqueuedTime)] = m.enqueued
	if !lockedUntil.IsZero() {
		ann[amqp.Symbol(annLockedUntil)] = lockedUntil
	}
	if m.dlSource != "" {
		ann[amqp.Symbol(annDeadLetterSource)] = m.dlSource
	}
	switch {
	case m.scheduledState:
		ann[amqp.Symbol(annMessageState)] = int64(2)
	case m.deferred:
		ann[amqp.Symbol(annMessageState)] = int64(1)
	}
	out.Annotations = ann
	out.DeliveryAnnotations = deliveryAnn
	return out.AppendBinary(make([]byte, 0, m.data.size+160))
}
