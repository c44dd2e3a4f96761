package amqp

import "time"

// Header is the message header section.
type Header struct {
	Durable       bool
	Priority      uint8 // default 4
	TTL           *uint32
	FirstAcquirer bool
	DeliveryCount uint32
}

// Properties is the immutable properties section of the bare message.
type Properties struct {
	MessageID          any // ulong, uuid, binary or string
	UserID             []byte
	To                 string
	Subject            string
	ReplyTo            string
	CorrelationID      any
	ContentType        Symbol
	ContentEncoding    Symbol
	AbsoluteExpiryTime *time.Time
	CreationTime       *time.Time
	GroupID            string
	GroupSequence      *uint32
	ReplyToGroupID     string
}

// Message is an AMQP message. A decoded message keeps the raw bytes of its
// properties, application-properties and body sections, so that a broker can
// re-annotate and forward it without re-encoding (or copying into new values)
// the parts it did not change. Changing Properties or ApplicationProperties
// requires calling the matching Touch method so the raw bytes are dropped.
type Message struct {
	Header                *Header
	DeliveryAnnotations   map[any]any
	Annotations           map[any]any
	Properties            *Properties
	ApplicationProperties map[string]any

	// Body, as decoded: Data holds the data sections, Value the amqp-value
	// (HasValue tells a null value from none), Sequence the amqp-sequence sections.
	Data     [][]byte
	Value    any
	HasValue bool
	Sequence [][]any

	rawProps, rawAppProps, rawBody []byte
}

// TouchProperties marks Properties as changed.
func (m *Message) TouchProperties() { m.rawProps = nil }

// TouchApplicationProperties marks ApplicationProperties as changed.
func (m *Message) TouchApplicationProperties() { m.rawAppProps = nil }

// RawBody returns the encoded body sections (and footer) as received.
func (m *Message) RawBody() []byte { return m.rawBody }

// Unmarshal decodes an encoded message. Binary values and the raw sections alias
// b, so b must not be modified afterwards.
func (m *Message) Unmarshal(b []byte) error {
	*m = Message{}
	d := decoder{b: b}
	bodyStart := -1
	for d.off < len(b) {
		start := d.off
		if err := d.need(2); err != nil {
			return err
		}
		if b[d.off] != codeDescribed {
			return malformed("message section at offset %d is not described", d.off)
		}
		d.off++
		desc, err := d.value()
		if err != nil {
			return err
		}
		code, ok := desc.(uint64)
		if !ok {
			return malformed("message section descriptor %v", desc)
		}
		if code == DescApplicationProperties {
			ap, err := d.stringMap()
			if err != nil {
				return err
			}
			m.ApplicationProperties = ap
			m.rawAppProps = b[start:d.off:d.off]
			continue
		}
		// Sections decode with the composite table bypassed, as header and
		// properties are lists interpreted here.
		val, err := d.value()
		if err != nil {
			return err
		}
		raw := b[start:d.off:d.off]
		switch code {
		case DescHeader:
			l, _ := val.([]any)
			f := &fields{l: l}
			h := &Header{Durable: f.boolean(0), Priority: 4, TTL: f.u32p(2), FirstAcquirer: f.boolean(3), DeliveryCount: f.u32(4, 0)}
			if p := f.u8p(1); p != nil {
				h.Priority = *p
			}
			if f.err != nil {
				return f.err
			}
			m.Header = h
		case DescDeliveryAnnotations:
			mp, err := asMap(val)
			if err != nil {
				return err
			}
			m.DeliveryAnnotations = mp
		case DescMessageAnnotations:
			mp, err := asMap(val)
			if err != nil {
				return err
			}
			m.Annotations = mp
		case DescProperties:
			l, _ := val.([]any)
			f := &fields{l: l}
			p := &Properties{MessageID: f.at(0), UserID: f.bin(1), To: f.str(2), Subject: f.str(3), ReplyTo: f.str(4),
				CorrelationID: f.at(5), ContentType: f.sym(6), ContentEncoding: f.sym(7), AbsoluteExpiryTime: f.timep(8),
				CreationTime: f.timep(9), GroupID: f.str(10), GroupSequence: f.u32p(11), ReplyToGroupID: f.str(12)}
			if f.err != nil {
				return f.err
			}
			m.Properties = p
			m.rawProps = raw
		case DescData:
			bin, ok := val.([]byte)
			if !ok {
				return malformed("data section holds %T", val)
			}
			m.Data = append(m.Data, bin)
			if bodyStart < 0 {
				bodyStart = start
			}
		case DescAMQPValue:
			m.Value, m.HasValue = val, true
			if bodyStart < 0 {
				bodyStart = start
			}
		case DescAMQPSequence:
			l, ok := val.([]any)
			if !ok && val != nil {
				return malformed("amqp-sequence holds %T", val)
			}
			m.Sequence = append(m.Sequence, l)
			if bodyStart < 0 {
				bodyStart = start
			}
		case DescFooter:
			if bodyStart < 0 {
				bodyStart = start
			}
		default:
			return malformed("unknown message section 0x%x", code)
		}
	}
	if bodyStart >= 0 {
		m.rawBody = b[bodyStart:len(b):len(b)]
	}
	return nil
}

func (f *fields) timep(i int) *time.Time {
	switch v := f.at(i).(type) {
	case nil:
		return nil
	case time.Time:
		return &v
	}
	f.bad(i, "timestamp")
	return nil
}

func asMap(v any) (map[any]any, error) {
	switch m := v.(type) {
	case nil:
		return nil, nil
	case map[any]any:
		return m, nil
	}
	return nil, malformed("section holds %T, want map", v)
}

func appendSection(b []byte, code uint64, v any) ([]byte, error) {
	b = append(b, codeDescribed, codeSmallUlong, byte(code))
	return Append(b, v)
}

// AppendBinary encodes the message, reusing raw sections where unchanged.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	var err error
	if h := m.Header; h != nil {
		var ttl any
		if h.TTL != nil {
			ttl = *h.TTL
		}
		// delivery-count is always written: Service Bus clients derive the
		// delivery count from it.
		b, err = appendComposite(b, DescHeader, h.Durable, h.Priority, ttl, h.FirstAcquirer, h.DeliveryCount)
		if err != nil {
			return nil, err
		}
	}
	if m.DeliveryAnnotations != nil {
		if b, err = appendSection(b, DescDeliveryAnnotations, m.DeliveryAnnotations); err != nil {
			return nil, err
		}
	}
	if m.Annotations != nil {
		if b, err = appendSection(b, DescMessageAnnotations, m.Annotations); err != nil {
			return nil, err
		}
	}
	if m.rawProps != nil {
		b = append(b, m.rawProps...)
	} else if p := m.Properties; p != nil {
		var gs any
		if p.GroupSequence != nil {
			gs = *p.GroupSequence
		}
		var ct, ce any
		if p.ContentType != "" {
			ct = p.ContentType
		}
		if p.ContentEncoding != "" {
			ce = p.ContentEncoding
		}
		var uid any
		if p.UserID != nil {
			uid = p.UserID
		}
		b, err = appendComposite(b, DescProperties, p.MessageID, uid, strOrNil(p.To), strOrNil(p.Subject),
			strOrNil(p.ReplyTo), p.CorrelationID, ct, ce, p.AbsoluteExpiryTime, p.CreationTime,
			strOrNil(p.GroupID), gs, strOrNil(p.ReplyToGroupID))
		if err != nil {
			return nil, err
		}
	}
	if m.rawAppProps != nil {
		b = append(b, m.rawAppProps...)
	} else if m.ApplicationProperties != nil {
		if b, err = appendSection(b, DescApplicationProperties, m.ApplicationProperties); err != nil {
			return nil, err
		}
	}
	if m.rawBody != nil {
		return append(b, m.rawBody...), nil
	}
	for _, d := range m.Data {
		b = append(b, codeDescribed, codeSmallUlong, DescData)
		b = appendBinary(b, d)
	}
	if m.HasValue {
		if b, err = appendSection(b, DescAMQPValue, m.Value); err != nil {
			return nil, err
		}
	}
	for _, s := range m.Sequence {
		if b, err = appendSection(b, DescAMQPSequence, s); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Clone returns a copy that owns its raw sections (the decoded values of a
// message still alias the buffer it was decoded from; Clone re-decodes).
func (m *Message) Clone() (*Message, error) {
	b, err := m.AppendBinary(nil)
	if err != nil {
		return nil, err
	}
	var c Message
	if err := c.Unmarshal(b); err != nil {
		return nil, err
	}
	return &c, nil
}

// BatchFormat is the message-format Service Bus and Event Hubs use for a
// transfer whose data sections each hold one encoded message.
const BatchFormat uint32 = 0x80013700
