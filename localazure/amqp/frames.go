package amqp

import (
	"encoding/binary"
	"time"
)

// Frame types (section 2.3).
const (
	FrameAMQP = 0x00
	FrameSASL = 0x01
)

// Open is the open performative.
type Open struct {
	ContainerID         string
	Hostname            string
	MaxFrameSize        uint32 // 0 decodes as the default, 4294967295
	ChannelMax          uint16
	IdleTimeout         time.Duration
	OfferedCapabilities []Symbol
	DesiredCapabilities []Symbol
	Properties          map[any]any
}

// Begin is the begin performative.
type Begin struct {
	RemoteChannel  *uint16
	NextOutgoingID uint32
	IncomingWindow uint32
	OutgoingWindow uint32
	HandleMax      uint32
	Properties     map[any]any
}

// Attach is the attach performative.
type Attach struct {
	Name                 string
	Handle               uint32
	Role                 bool
	SndSettleMode        *uint8
	RcvSettleMode        *uint8
	Source               *Source
	Target               *Target
	Unsettled            map[any]any
	IncompleteUnsettled  bool
	InitialDeliveryCount uint32
	MaxMessageSize       uint64
	OfferedCapabilities  []Symbol
	DesiredCapabilities  []Symbol
	Properties           map[any]any
}

// Flow is the flow performative.
type Flow struct {
	NextIncomingID *uint32
	IncomingWindow uint32
	NextOutgoingID uint32
	OutgoingWindow uint32
	Handle         *uint32
	DeliveryCount  *uint32
	LinkCredit     *uint32
	Available      *uint32
	Drain          bool
	Echo           bool
	Properties     map[any]any
}

// Transfer is the transfer performative; Payload is the frame's remaining bytes.
type Transfer struct {
	Handle        uint32
	DeliveryID    *uint32
	DeliveryTag   []byte
	MessageFormat *uint32
	Settled       *bool
	More          bool
	RcvSettleMode *uint8
	State         DeliveryState
	Resume        bool
	Aborted       bool
	Batchable     bool
	Payload       []byte
}

// Disposition is the disposition performative.
type Disposition struct {
	Role      bool
	First     uint32
	Last      *uint32
	Settled   bool
	State     DeliveryState
	Batchable bool
}

// Detach is the detach performative.
type Detach struct {
	Handle uint32
	Closed bool
	Error  *Error
}

// End is the end performative.
type End struct{ Error *Error }

// Close is the close performative.
type Close struct{ Error *Error }

// SASLMechanisms, SASLInit, SASLOutcome are the SASL frames a server needs.
type SASLMechanisms struct{ Mechanisms []Symbol }

// SASLInit is the client's choice of mechanism.
type SASLInit struct {
	Mechanism       Symbol
	InitialResponse []byte
	Hostname        string
}

// SASLResponse answers a challenge; this server never challenges but decodes it.
type SASLResponse struct{ Response []byte }

// SASLOutcome ends the SASL exchange.
type SASLOutcome struct {
	Code           uint8
	AdditionalData []byte
}

// fields reads positional composite fields, recording the first type mismatch.
type fields struct {
	l   []any
	err error
}

func (f *fields) at(i int) any {
	if i < len(f.l) {
		return f.l[i]
	}
	return nil
}

func (f *fields) bad(i int, want string) {
	if f.err == nil {
		f.err = malformed("field %d is %T, want %s", i, f.at(i), want)
	}
}

func (f *fields) str(i int) string {
	switch v := f.at(i).(type) {
	case nil:
		return ""
	case string:
		return v
	case Symbol:
		return string(v)
	}
	f.bad(i, "string")
	return ""
}

func (f *fields) sym(i int) Symbol {
	switch v := f.at(i).(type) {
	case nil:
		return ""
	case Symbol:
		return v
	case string:
		return Symbol(v)
	}
	f.bad(i, "symbol")
	return ""
}

func (f *fields) u32p(i int) *uint32 {
	switch v := f.at(i).(type) {
	case nil:
		return nil
	case uint32:
		return &v
	case uint8:
		w := uint32(v)
		return &w
	case uint16:
		w := uint32(v)
		return &w
	}
	f.bad(i, "uint")
	return nil
}

func (f *fields) u32(i int, def uint32) uint32 {
	if p := f.u32p(i); p != nil {
		return *p
	}
	return def
}

func (f *fields) u64(i int) uint64 {
	switch v := f.at(i).(type) {
	case nil:
		return 0
	case uint64:
		return v
	case uint32:
		return uint64(v)
	}
	f.bad(i, "ulong")
	return 0
}

func (f *fields) u8p(i int) *uint8 {
	switch v := f.at(i).(type) {
	case nil:
		return nil
	case uint8:
		return &v
	}
	f.bad(i, "ubyte")
	return nil
}

func (f *fields) u16p(i int) *uint16 {
	switch v := f.at(i).(type) {
	case nil:
		return nil
	case uint16:
		return &v
	}
	f.bad(i, "ushort")
	return nil
}

func (f *fields) boolean(i int) bool {
	switch v := f.at(i).(type) {
	case nil:
		return false
	case bool:
		return v
	}
	f.bad(i, "boolean")
	return false
}

func (f *fields) boolp(i int) *bool {
	switch v := f.at(i).(type) {
	case nil:
		return nil
	case bool:
		return &v
	}
	f.bad(i, "boolean")
	return nil
}

func (f *fields) bin(i int) []byte {
	switch v := f.at(i).(type) {
	case nil:
		return nil
	case []byte:
		return v
	}
	f.bad(i, "binary")
	return nil
}

// syms reads a multiple-symbol field: a single symbol or an array of them.
func (f *fields) syms(i int) []Symbol {
	switch v := f.at(i).(type) {
	case nil:
		return nil
	case Symbol:
		return []Symbol{v}
	case []Symbol:
		return v
	}
	f.bad(i, "symbol array")
	return nil
}

func (f *fields) fmap(i int) map[any]any {
	switch v := f.at(i).(type) {
	case nil:
		return nil
	case map[any]any:
		return v
	}
	f.bad(i, "map")
	return nil
}

func (f *fields) errp(i int) *Error {
	switch v := f.at(i).(type) {
	case nil:
		return nil
	case *Error:
		return v
	}
	f.bad(i, "error")
	return nil
}

func (f *fields) state(i int) DeliveryState {
	switch v := f.at(i).(type) {
	case nil:
		return nil
	case DeliveryState:
		return v
	}
	f.bad(i, "delivery-state")
	return nil
}

// decodeComposite turns a described list with a known descriptor into its struct.
// ok is false for descriptors this package leaves as *Described.
func decodeComposite(code uint64, val any) (v any, ok bool, err error) {
	l, isList := val.([]any)
	if !isList && val != nil {
		switch code {
		case descOpen, descBegin, descAttach, descFlow, descTransfer, descDisposition, descDetach,
			descEnd, descClose, descError, descAccepted, descRejected, descReleased, descModified,
			descReceived, descSource, descTarget, descSASLMechanisms, descSASLInit, descSASLResponse,
			descSASLOutcome:
			return nil, false, malformed("composite 0x%02x is not a list", code)
		}
		return nil, false, nil
	}
	f := &fields{l: l}
	switch code {
	case descOpen:
		o := &Open{ContainerID: f.str(0), Hostname: f.str(1), MaxFrameSize: f.u32(2, 0xffffffff)}
		if p := f.u16p(3); p != nil {
			o.ChannelMax = *p
		} else {
			o.ChannelMax = 0xffff
		}
		o.IdleTimeout = time.Duration(f.u32(4, 0)) * time.Millisecond
		o.OfferedCapabilities, o.DesiredCapabilities, o.Properties = f.syms(7), f.syms(8), f.fmap(9)
		v = o
	case descBegin:
		b := &Begin{RemoteChannel: f.u16p(0), NextOutgoingID: f.u32(1, 0), IncomingWindow: f.u32(2, 0),
			OutgoingWindow: f.u32(3, 0), HandleMax: f.u32(4, 0xffffffff), Properties: f.fmap(7)}
		v = b
	case descAttach:
		a := &Attach{Name: f.str(0), Handle: f.u32(1, 0), Role: f.boolean(2), SndSettleMode: f.u8p(3),
			RcvSettleMode: f.u8p(4), Unsettled: f.fmap(7), IncompleteUnsettled: f.boolean(8),
			InitialDeliveryCount: f.u32(9, 0), MaxMessageSize: f.u64(10), OfferedCapabilities: f.syms(11),
			DesiredCapabilities: f.syms(12), Properties: f.fmap(13)}
		switch s := f.at(5).(type) {
		case nil:
		case *Source:
			a.Source = s
		default:
			f.bad(5, "source")
		}
		switch t := f.at(6).(type) {
		case nil:
		case *Target:
			a.Target = t
		default:
			f.bad(6, "target")
		}
		v = a
	case descFlow:
		fl := &Flow{NextIncomingID: f.u32p(0), IncomingWindow: f.u32(1, 0), NextOutgoingID: f.u32(2, 0),
			OutgoingWindow: f.u32(3, 0), Handle: f.u32p(4), DeliveryCount: f.u32p(5), LinkCredit: f.u32p(6),
			Available: f.u32p(7), Drain: f.boolean(8), Echo: f.boolean(9), Properties: f.fmap(10)}
		v = fl
	case descTransfer:
		t := &Transfer{Handle: f.u32(0, 0), DeliveryID: f.u32p(1), DeliveryTag: f.bin(2), MessageFormat: f.u32p(3),
			Settled: f.boolp(4), More: f.boolean(5), RcvSettleMode: f.u8p(6), State: f.state(7),
			Resume: f.boolean(8), Aborted: f.boolean(9), Batchable: f.boolean(10)}
		v = t
	case descDisposition:
		d := &Disposition{Role: f.boolean(0), First: f.u32(1, 0), Last: f.u32p(2), Settled: f.boolean(3),
			State: f.state(4), Batchable: f.boolean(5)}
		v = d
	case descDetach:
		v = &Detach{Handle: f.u32(0, 0), Closed: f.boolean(1), Error: f.errp(2)}
	case descEnd:
		v = &End{Error: f.errp(0)}
	case descClose:
		v = &Close{Error: f.errp(0)}
	case descError:
		v = &Error{Condition: f.sym(0), Description: f.str(1), Info: f.fmap(2)}
	case descAccepted:
		v = &Accepted{}
	case descRejected:
		v = &Rejected{Error: f.errp(0)}
	case descReleased:
		v = &Released{}
	case descModified:
		v = &Modified{DeliveryFailed: f.boolean(0), UndeliverableHere: f.boolean(1), MessageAnnotations: f.fmap(2)}
	case descReceived:
		v = &Received{SectionNumber: f.u32(0, 0), SectionOffset: f.u64(1)}
	case descSource:
		s := &Source{Address: f.str(0), Durable: f.u32(1, 0), ExpiryPolicy: f.sym(2), Timeout: f.u32(3, 0),
			Dynamic: f.boolean(4), DynamicNodeProperties: f.fmap(5), DistributionMode: f.sym(6), Filter: f.fmap(7),
			DefaultOutcome: f.at(8), Outcomes: f.syms(9), Capabilities: f.syms(10)}
		v = s
	case descTarget:
		t := &Target{Address: f.str(0), Durable: f.u32(1, 0), ExpiryPolicy: f.sym(2), Timeout: f.u32(3, 0),
			Dynamic: f.boolean(4), DynamicNodeProperties: f.fmap(5), Capabilities: f.syms(6)}
		v = t
	case descSASLMechanisms:
		v = &SASLMechanisms{Mechanisms: f.syms(0)}
	case descSASLInit:
		v = &SASLInit{Mechanism: f.sym(0), InitialResponse: f.bin(1), Hostname: f.str(2)}
	case descSASLResponse:
		v = &SASLResponse{Response: f.bin(0)}
	case descSASLOutcome:
		o := &SASLOutcome{}
		if p := f.u8p(0); p != nil {
			o.Code = *p
		}
		o.AdditionalData = f.bin(1)
		v = o
	default:
		return nil, false, nil
	}
	if f.err != nil {
		return nil, false, f.err
	}
	return v, true, nil
}

// ReadFrame parses one frame from buf, which must hold exactly the frame's bytes
// (the 8-byte header included). It returns the frame type, channel and decoded
// body; a frame with no body (a heartbeat) returns a nil body. For a transfer the
// payload aliases buf.
func ReadFrame(buf []byte) (ftype byte, channel uint16, body any, err error) {
	if len(buf) < 8 {
		return 0, 0, nil, malformed("frame of %d bytes", len(buf))
	}
	size := binary.BigEndian.Uint32(buf)
	doff := int(buf[4]) * 4
	if int(size) != len(buf) || doff < 8 || doff > len(buf) {
		return 0, 0, nil, malformed("frame size %d, data offset %d", size, doff)
	}
	ftype, channel = buf[5], binary.BigEndian.Uint16(buf[6:])
	if doff == len(buf) {
		return ftype, channel, nil, nil
	}
	d := decoder{b: buf[doff:]}
	body, err = d.value()
	if err != nil {
		return ftype, channel, nil, err
	}
	switch b := body.(type) {
	case *Transfer:
		b.Payload = d.b[d.off:]
	case *Open, *Begin, *Attach, *Flow, *Disposition, *Detach, *End, *Close,
		*SASLMechanisms, *SASLInit, *SASLResponse, *SASLOutcome:
		if d.off != len(d.b) {
			return ftype, channel, nil, malformed("%d trailing bytes after %T", len(d.b)-d.off, body)
		}
	default:
		return ftype, channel, nil, malformed("frame body is %T, not a performative", body)
	}
	return ftype, channel, body, nil
}

// AppendFrame appends a whole frame (header, performative, payload) to b.
func AppendFrame(b []byte, ftype byte, channel uint16, body any, payload []byte) ([]byte, error) {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 2, ftype, byte(channel>>8), byte(channel))
	var err error
	if body != nil {
		if b, err = appendPerformative(b, body); err != nil {
			return nil, err
		}
	}
	b = append(b, payload...)
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b, nil
}

func u32ptr(p *uint32) any {
	if p == nil {
		return nil
	}
	return *p
}

func u8ptr(p *uint8) any {
	if p == nil {
		return nil
	}
	return *p
}

func symsOrNil(s []Symbol) any {
	if len(s) == 0 {
		return nil
	}
	return s
}

func mapOrNil(m map[any]any) any {
	if m == nil {
		return nil
	}
	return m
}

func strOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func appendPerformative(b []byte, body any) ([]byte, error) {
	switch p := body.(type) {
	case *Open:
		var idle any
		if p.IdleTimeout > 0 {
			idle = uint32(p.IdleTimeout / time.Millisecond)
		}
		return appendComposite(b, descOpen, p.ContainerID, strOrNil(p.Hostname), p.MaxFrameSize, p.ChannelMax, idle,
			nil, nil, symsOrNil(p.OfferedCapabilities), symsOrNil(p.DesiredCapabilities), mapOrNil(p.Properties))
	case *Begin:
		var rc any
		if p.RemoteChannel != nil {
			rc = *p.RemoteChannel
		}
		return appendComposite(b, descBegin, rc, p.NextOutgoingID, p.IncomingWindow, p.OutgoingWindow, p.HandleMax,
			nil, nil, mapOrNil(p.Properties))
	case *Attach:
		var src, tgt any
		if p.Source != nil {
			src = p.Source
		}
		if p.Target != nil {
			tgt = p.Target
		}
		var mms any
		if p.MaxMessageSize != 0 {
			mms = p.MaxMessageSize
		}
		var idc any
		if p.Role == RoleSender {
			idc = p.InitialDeliveryCount
		}
		return appendComposite(b, descAttach, p.Name, p.Handle, p.Role, u8ptr(p.SndSettleMode), u8ptr(p.RcvSettleMode),
			srcOrTarget(src), srcOrTarget(tgt), mapOrNil(p.Unsettled), p.IncompleteUnsettled, idc, mms,
			symsOrNil(p.OfferedCapabilities), symsOrNil(p.DesiredCapabilities), mapOrNil(p.Properties))
	case *Flow:
		return appendComposite(b, descFlow, u32ptr(p.NextIncomingID), p.IncomingWindow, p.NextOutgoingID, p.OutgoingWindow,
			u32ptr(p.Handle), u32ptr(p.DeliveryCount), u32ptr(p.LinkCredit), u32ptr(p.Available), p.Drain, p.Echo,
			mapOrNil(p.Properties))
	case *Transfer:
		var settled, st any
		if p.Settled != nil {
			settled = *p.Settled
		}
		if p.State != nil {
			st = p.State
		}
		return appendComposite(b, descTransfer, p.Handle, u32ptr(p.DeliveryID), binOrNil(p.DeliveryTag), u32ptr(p.MessageFormat),
			settled, p.More, u8ptr(p.RcvSettleMode), st, p.Resume, p.Aborted, p.Batchable)
	case *Disposition:
		var st any
		if p.State != nil {
			st = p.State
		}
		return appendComposite(b, descDisposition, p.Role, p.First, u32ptr(p.Last), p.Settled, st, p.Batchable)
	case *Detach:
		return appendComposite(b, descDetach, p.Handle, p.Closed, errOrNil(p.Error))
	case *End:
		return appendComposite(b, descEnd, errOrNil(p.Error))
	case *Close:
		return appendComposite(b, descClose, errOrNil(p.Error))
	case *SASLMechanisms:
		return appendComposite(b, descSASLMechanisms, p.Mechanisms)
	case *SASLOutcome:
		return appendComposite(b, descSASLOutcome, p.Code, binOrNil(p.AdditionalData))
	case *SASLInit:
		return appendComposite(b, descSASLInit, p.Mechanism, binOrNil(p.InitialResponse), strOrNil(p.Hostname))
	case *SASLResponse:
		return appendComposite(b, descSASLResponse, binOrNil(p.Response))
	}
	return nil, malformed("cannot encode performative %T", body)
}

// binOrNil keeps an absent binary field null rather than an empty binary.
func binOrNil(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func errOrNil(e *Error) any {
	if e == nil {
		return nil
	}
	return e
}

// srcOrTarget wraps a terminus so that Append can encode it.
func srcOrTarget(v any) any {
	switch t := v.(type) {
	case *Source:
		return terminus{t}
	case *Target:
		return terminus{t}
	}
	return nil
}

type terminus struct{ v any }
