// Package amqp is a small AMQP 1.0 implementation for the server side of a
// connection: the type system codec, frame parsing, SASL and the
// connection/session/link state machines with flow control. It exists because the
// Go AMQP client libraries expose no server side; the local Service Bus broker is
// built on it.
//
// Values decode to plain Go types: nil, bool, uint8..uint64, int8..int64, float32,
// float64, Char, time.Time (timestamp), UUID, []byte (binary), string, Symbol,
// []any (list), map[any]any (map), typed slices for arrays ([]Symbol, []int64,
// []time.Time, []UUID, [][]byte, ...) and *Described for described values that
// are not known composites. Encoding accepts the same types plus map[string]any
// and map[Symbol]any.
package amqp

import (
	"encoding/hex"
	"fmt"
)

// Symbol is an AMQP symbol: an ASCII string from a constrained domain.
type Symbol string

// UUID is an AMQP uuid in RFC 4122 byte order.
type UUID [16]byte

// String formats the UUID in the canonical 8-4-4-4-12 form.
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// Char is an AMQP char (a UTF-32 code point).
type Char rune

// Decimal32, Decimal64 and Decimal128 carry IEEE 754 decimal values undecoded:
// nothing here computes with them, they only need to round-trip.
type (
	Decimal32  [4]byte
	Decimal64  [8]byte
	Decimal128 [16]byte
)

// Described is a described value whose descriptor is not one of the composites
// this package decodes into structs.
type Described struct {
	Descriptor any // uint64 or Symbol
	Value      any
}

// Error is the AMQP error composite, carried by detach, end, close and rejected.
type Error struct {
	Condition   Symbol
	Description string
	Info        map[any]any
}

// Error formats the condition and description.
func (e *Error) Error() string {
	if e.Description == "" {
		return string(e.Condition)
	}
	return fmt.Sprintf("%s: %s", e.Condition, e.Description)
}

// Error conditions from the AMQP 1.0 specification, section 2.8.15 onwards.
const (
	ErrInternal           Symbol = "amqp:internal-error"
	ErrNotFound           Symbol = "amqp:not-found"
	ErrUnauthorized       Symbol = "amqp:unauthorized-access"
	ErrDecode             Symbol = "amqp:decode-error"
	ErrResourceLimit      Symbol = "amqp:resource-limit-exceeded"
	ErrNotAllowed         Symbol = "amqp:not-allowed"
	ErrInvalidField       Symbol = "amqp:invalid-field"
	ErrNotImplemented     Symbol = "amqp:not-implemented"
	ErrResourceLocked     Symbol = "amqp:resource-locked"
	ErrPreconditionFailed Symbol = "amqp:precondition-failed"
	ErrResourceDeleted    Symbol = "amqp:resource-deleted"
	ErrIllegalState       Symbol = "amqp:illegal-state"
	ErrFrameSizeTooSmall  Symbol = "amqp:frame-size-too-small"
	ErrConnForced         Symbol = "amqp:connection:forced"
	ErrConnFraming        Symbol = "amqp:connection:framing-error"
	ErrConnRedirect       Symbol = "amqp:connection:redirect"
	ErrSessionWindow      Symbol = "amqp:session:window-violation"
	ErrSessionErrantLink  Symbol = "amqp:session:errant-link"
	ErrSessionHandleInUse Symbol = "amqp:session:handle-in-use"
	ErrSessionUnattached  Symbol = "amqp:session:unattached-handle"
	ErrLinkDetachForced   Symbol = "amqp:link:detach-forced"
	ErrLinkTransferLimit  Symbol = "amqp:link:transfer-limit-exceeded"
	ErrLinkMessageSize    Symbol = "amqp:link:message-size-exceeded"
	ErrLinkRedirect       Symbol = "amqp:link:redirect"
	ErrLinkStolen         Symbol = "amqp:link:stolen"
)

// Roles of a link endpoint.
const (
	RoleSender   = false
	RoleReceiver = true
)

// Settlement modes.
const (
	SndUnsettled uint8 = 0
	SndSettled   uint8 = 1
	SndMixed     uint8 = 2
	RcvFirst     uint8 = 0
	RcvSecond    uint8 = 1
)

// Source is the source terminus of a link.
type Source struct {
	Address      string
	Durable      uint32
	ExpiryPolicy Symbol
	Timeout      uint32
	Dynamic      bool
	// DynamicNodeProperties, DistributionMode, Outcomes are kept raw.
	DynamicNodeProperties map[any]any
	DistributionMode      Symbol
	Filter                map[any]any
	DefaultOutcome        any
	Outcomes              []Symbol
	Capabilities          []Symbol
}

// Target is the target terminus of a link.
type Target struct {
	Address               string
	Durable               uint32
	ExpiryPolicy          Symbol
	Timeout               uint32
	Dynamic               bool
	DynamicNodeProperties map[any]any
	Capabilities          []Symbol
}

// DeliveryState is one of *Accepted, *Rejected, *Released, *Modified, *Received.
type DeliveryState interface{ deliveryState() }

// Accepted is the accepted outcome.
type Accepted struct{}

// Rejected is the rejected outcome.
type Rejected struct{ Error *Error }

// Released is the released outcome.
type Released struct{}

// Modified is the modified outcome.
type Modified struct {
	DeliveryFailed     bool
	UndeliverableHere  bool
	MessageAnnotations map[any]any
}

// Received is the received (non-terminal) delivery state.
type Received struct {
	SectionNumber uint32
	SectionOffset uint64
}

func (*Accepted) deliveryState() {}
func (*Rejected) deliveryState() {}
func (*Released) deliveryState() {}
func (*Modified) deliveryState() {}
func (*Received) deliveryState() {}

// Descriptor codes of the composites this package knows.
const (
	descError          = 0x1d
	descOpen           = 0x10
	descBegin          = 0x11
	descAttach         = 0x12
	descFlow           = 0x13
	descTransfer       = 0x14
	descDisposition    = 0x15
	descDetach         = 0x16
	descEnd            = 0x17
	descClose          = 0x18
	descReceived       = 0x23
	descAccepted       = 0x24
	descRejected       = 0x25
	descReleased       = 0x26
	descModified       = 0x27
	descSource         = 0x28
	descTarget         = 0x29
	descDeleteOnClose  = 0x2b
	descSASLMechanisms = 0x40
	descSASLInit       = 0x41
	descSASLChallenge  = 0x42
	descSASLResponse   = 0x43
	descSASLOutcome    = 0x44

	// Message sections.
	DescHeader                = 0x70
	DescDeliveryAnnotations   = 0x71
	DescMessageAnnotations    = 0x72
	DescProperties            = 0x73
	DescApplicationProperties = 0x74
	DescData                  = 0x75
	DescAMQPSequence          = 0x76
	DescAMQPValue             = 0x77
	DescFooter                = 0x78
)
