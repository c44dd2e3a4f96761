package amqp

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// Type codes of the AMQP 1.0 type system (section 1.6).
const (
	codeDescribed  = 0x00
	codeNull       = 0x40
	codeTrue       = 0x41
	codeFalse      = 0x42
	codeBool       = 0x56
	codeUbyte      = 0x50
	codeByte       = 0x51
	codeUshort     = 0x60
	codeShort      = 0x61
	codeUint0      = 0x43
	codeSmallUint  = 0x52
	codeUint       = 0x70
	codeUlong0     = 0x44
	codeSmallUlong = 0x53
	codeUlong      = 0x80
	codeSmallInt   = 0x54
	codeInt        = 0x71
	codeSmallLong  = 0x55
	codeLong       = 0x81
	codeFloat      = 0x72
	codeDouble     = 0x82
	codeDecimal32  = 0x74
	codeDecimal64  = 0x84
	codeDecimal128 = 0x94
	codeChar       = 0x73
	codeTimestamp  = 0x83
	codeUUID       = 0x98
	codeVbin8      = 0xa0
	codeVbin32     = 0xb0
	codeStr8       = 0xa1
	codeStr32      = 0xb1
	codeSym8       = 0xa3
	codeSym32      = 0xb3
	codeList0      = 0x45
	codeList8      = 0xc0
	codeList32     = 0xd0
	codeMap8       = 0xc1
	codeMap32      = 0xd1
	codeArray8     = 0xe0
	codeArray32    = 0xf0
)

// Append encodes v in the AMQP type system and appends it to b. Unsupported Go
// types are a programming error and return an error rather than panicking.
func Append(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, codeNull), nil
	case bool:
		if v {
			return append(b, codeTrue), nil
		}
		return append(b, codeFalse), nil
	case uint8:
		return append(b, codeUbyte, v), nil
	case int8:
		return append(b, codeByte, byte(v)), nil
	case uint16:
		return binary.BigEndian.AppendUint16(append(b, codeUshort), v), nil
	case int16:
		return binary.BigEndian.AppendUint16(append(b, codeShort), uint16(v)), nil
	case uint32:
		return appendUint(b, v), nil
	case uint:
		return appendUlong(b, uint64(v)), nil
	case uint64:
		return appendUlong(b, v), nil
	case int32:
		return appendInt(b, v), nil
	case int:
		return appendLong(b, int64(v)), nil
	case int64:
		return appendLong(b, v), nil
	case float32:
		return binary.BigEndian.AppendUint32(append(b, codeFloat), math.Float32bits(v)), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(b, codeDouble), math.Float64bits(v)), nil
	case Char:
		return binary.BigEndian.AppendUint32(append(b, codeChar), uint32(v)), nil
	case Decimal32:
		return append(append(b, codeDecimal32), v[:]...), nil
	case Decimal64:
		return append(append(b, codeDecimal64), v[:]...), nil
	case Decimal128:
		return append(append(b, codeDecimal128), v[:]...), nil
	case time.Time:
		return appendTimestamp(b, v), nil
	case *time.Time:
		if v == nil {
			return append(b, codeNull), nil
		}
		return appendTimestamp(b, *v), nil
	case UUID:
		return append(append(b, codeUUID), v[:]...), nil
	case *UUID:
		if v == nil {
			return append(b, codeNull), nil
		}
		return append(append(b, codeUUID), v[:]...), nil
	case []byte:
		return appendBinary(b, v), nil
	case string:
		return appendString(b, v), nil
	case *string:
		if v == nil {
			return append(b, codeNull), nil
		}
		return appendString(b, *v), nil
	case Symbol:
		return appendSymbol(b, v), nil
	case []any:
		return appendList(b, v)
	case map[any]any:
		return appendMap(b, len(v), func(b []byte) ([]byte, error) {
			var err error
			for k, val := range v {
				if b, err = Append(b, k); err != nil {
					return nil, err
				}
				if b, err = Append(b, val); err != nil {
					return nil, err
				}
			}
			return b, nil
		})
	case map[string]any:
		return appendMap(b, len(v), func(b []byte) ([]byte, error) {
			var err error
			for k, val := range v {
				b = appendString(b, k)
				if b, err = Append(b, val); err != nil {
					return nil, err
				}
			}
			return b, nil
		})
	case map[Symbol]any:
		return appendMap(b, len(v), func(b []byte) ([]byte, error) {
			var err error
			for k, val := range v {
				b = appendSymbol(b, k)
				if b, err = Append(b, val); err != nil {
					return nil, err
				}
			}
			return b, nil
		})
	case *Described:
		b = append(b, codeDescribed)
		b, err := Append(b, v.Descriptor)
		if err != nil {
			return nil, err
		}
		return Append(b, v.Value)
	case *Error:
		return appendError(b, v)
	case DeliveryState:
		return appendDeliveryState(b, v)
	case terminus:
		return appendTerminus(b, v.v)
	case []Symbol:
		return appendTypedArray(b, v)
	case []string:
		return appendTypedArray(b, v)
	case []int64:
		return appendTypedArray(b, v)
	case []int32:
		return appendTypedArray(b, v)
	case []uint32:
		return appendTypedArray(b, v)
	case []uint64:
		return appendTypedArray(b, v)
	case []time.Time:
		return appendTypedArray(b, v)
	case []UUID:
		return appendTypedArray(b, v)
	case [][]byte:
		return appendTypedArray(b, v)
	case []bool:
		return appendTypedArray(b, v)
	case *Open, *Begin, *Attach, *Flow, *Transfer, *Disposition, *Detach, *End, *Close,
		*SASLMechanisms, *SASLInit, *SASLOutcome, *SASLResponse:
		return appendPerformative(b, v)
	case *Source:
		return appendTerminus(b, v)
	case *Target:
		return appendTerminus(b, v)
	default:
		return nil, fmt.Errorf("amqp: cannot encode %T", v)
	}
}

// appendTypedArray writes an array32 whose elements all use the wide form of one
// constructor, which is always valid and keeps the encoder simple.
func appendTypedArray[T any](b []byte, v []T) ([]byte, error) {
	start := len(b)
	b = append(b, codeArray32, 0, 0, 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[start+5:], uint32(len(v)))
	var ctor byte
	switch any(v).(type) {
	case []Symbol:
		ctor = codeSym32
	case []string:
		ctor = codeStr32
	case []int64:
		ctor = codeLong
	case []int32:
		ctor = codeInt
	case []uint32:
		ctor = codeUint
	case []uint64:
		ctor = codeUlong
	case []time.Time:
		ctor = codeTimestamp
	case []UUID:
		ctor = codeUUID
	case [][]byte:
		ctor = codeVbin32
	case []bool:
		ctor = codeBool
	}
	b = append(b, ctor)
	for _, e := range v {
		switch e := any(e).(type) {
		case Symbol:
			b = binary.BigEndian.AppendUint32(b, uint32(len(e)))
			b = append(b, e...)
		case string:
			b = binary.BigEndian.AppendUint32(b, uint32(len(e)))
			b = append(b, e...)
		case int64:
			b = binary.BigEndian.AppendUint64(b, uint64(e))
		case int32:
			b = binary.BigEndian.AppendUint32(b, uint32(e))
		case uint32:
			b = binary.BigEndian.AppendUint32(b, e)
		case uint64:
			b = binary.BigEndian.AppendUint64(b, e)
		case time.Time:
			b = binary.BigEndian.AppendUint64(b, uint64(e.UnixMilli()))
		case UUID:
			b = append(b, e[:]...)
		case []byte:
			b = binary.BigEndian.AppendUint32(b, uint32(len(e)))
			b = append(b, e...)
		case bool:
			if e {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		}
	}
	binary.BigEndian.PutUint32(b[start+1:], uint32(len(b)-start-5))
	return b, nil
}

func appendUint(b []byte, v uint32) []byte {
	switch {
	case v == 0:
		return append(b, codeUint0)
	case v < 256:
		return append(b, codeSmallUint, byte(v))
	}
	return binary.BigEndian.AppendUint32(append(b, codeUint), v)
}

func appendUlong(b []byte, v uint64) []byte {
	switch {
	case v == 0:
		return append(b, codeUlong0)
	case v < 256:
		return append(b, codeSmallUlong, byte(v))
	}
	return binary.BigEndian.AppendUint64(append(b, codeUlong), v)
}

func appendInt(b []byte, v int32) []byte {
	if v >= -128 && v <= 127 {
		return append(b, codeSmallInt, byte(int8(v)))
	}
	return binary.BigEndian.AppendUint32(append(b, codeInt), uint32(v))
}

func appendLong(b []byte, v int64) []byte {
	if v >= -128 && v <= 127 {
		return append(b, codeSmallLong, byte(int8(v)))
	}
	return binary.BigEndian.AppendUint64(append(b, codeLong), uint64(v))
}

func appendTimestamp(b []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(append(b, codeTimestamp), uint64(t.UnixMilli()))
}

func appendBinary(b []byte, v []byte) []byte {
	if len(v) < 256 {
		b = append(b, codeVbin8, byte(len(v)))
	} else {
		b = binary.BigEndian.AppendUint32(append(b, codeVbin32), uint32(len(v)))
	}
	return append(b, v...)
}

func appendString(b []byte, v string) []byte {
	if len(v) < 256 {
		b = append(b, codeStr8, byte(len(v)))
	} else {
		b = binary.BigEndian.AppendUint32(append(b, codeStr32), uint32(len(v)))
	}
	return append(b, v...)
}

func appendSymbol(b []byte, v Symbol) []byte {
	if len(v) < 256 {
		b = append(b, codeSym8, byte(len(v)))
	} else {
		b = binary.BigEndian.AppendUint32(append(b, codeSym32), uint32(len(v)))
	}
	return append(b, v...)
}

// appendList writes a list32 and back-fills size and count.
func appendList(b []byte, items []any) ([]byte, error) {
	if len(items) == 0 {
		return append(b, codeList0), nil
	}
	start := len(b)
	b = append(b, codeList32, 0, 0, 0, 0, 0, 0, 0, 0)
	var err error
	for _, it := range items {
		if b, err = Append(b, it); err != nil {
			return nil, err
		}
	}
	binary.BigEndian.PutUint32(b[start+1:], uint32(len(b)-start-5))
	binary.BigEndian.PutUint32(b[start+5:], uint32(len(items)))
	return b, nil
}

func appendMap(b []byte, n int, body func([]byte) ([]byte, error)) ([]byte, error) {
	start := len(b)
	b = append(b, codeMap32, 0, 0, 0, 0, 0, 0, 0, 0)
	b, err := body(b)
	if err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(b[start+1:], uint32(len(b)-start-5))
	binary.BigEndian.PutUint32(b[start+5:], uint32(2*n))
	return b, nil
}

// appendComposite writes a described list with descriptor code, trimming
// trailing nil fields as the specification allows.
func appendComposite(b []byte, code uint64, fields ...any) ([]byte, error) {
	n := len(fields)
	for n > 0 && isNil(fields[n-1]) {
		n--
	}
	b = append(b, codeDescribed)
	b = appendUlong(b, code)
	return appendList(b, fields[:n])
}

// isNil reports whether v encodes as null, so trailing optional fields are left off.
func isNil(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case *Error:
		return v == nil
	case map[any]any:
		return v == nil
	case []Symbol:
		return v == nil
	case []byte:
		return v == nil
	case *Source:
		return v == nil
	case *Target:
		return v == nil
	case *time.Time:
		return v == nil
	case *string:
		return v == nil
	}
	return false
}

func appendError(b []byte, e *Error) ([]byte, error) {
	if e == nil {
		return append(b, codeNull), nil
	}
	var desc any
	if e.Description != "" {
		desc = e.Description
	}
	var info any
	if e.Info != nil {
		info = e.Info
	}
	return appendComposite(b, descError, e.Condition, desc, info)
}

func appendDeliveryState(b []byte, s DeliveryState) ([]byte, error) {
	switch s := s.(type) {
	case *Accepted:
		return appendComposite(b, descAccepted)
	case *Rejected:
		var e any
		if s.Error != nil {
			e = s.Error
		}
		return appendComposite(b, descRejected, e)
	case *Released:
		return appendComposite(b, descReleased)
	case *Modified:
		var ann any
		if s.MessageAnnotations != nil {
			ann = s.MessageAnnotations
		}
		return appendComposite(b, descModified, s.DeliveryFailed, s.UndeliverableHere, ann)
	case *Received:
		return appendComposite(b, descReceived, s.SectionNumber, s.SectionOffset)
	}
	return append(b, codeNull), nil
}

// Marshal encodes v into a fresh slice.
func Marshal(v any) ([]byte, error) { return Append(nil, v) }

func appendTerminus(b []byte, v any) ([]byte, error) {
	switch t := v.(type) {
	case *Source:
		var def any = t.DefaultOutcome
		return appendComposite(b, descSource, strOrNil(t.Address), t.Durable, symOrNil(t.ExpiryPolicy), t.Timeout, t.Dynamic,
			mapOrNil(t.DynamicNodeProperties), symOrNil(t.DistributionMode), mapOrNil(t.Filter), def,
			symsOrNil(t.Outcomes), symsOrNil(t.Capabilities))
	case *Target:
		return appendComposite(b, descTarget, strOrNil(t.Address), t.Durable, symOrNil(t.ExpiryPolicy), t.Timeout, t.Dynamic,
			mapOrNil(t.DynamicNodeProperties), symsOrNil(t.Capabilities))
	}
	return append(b, codeNull), nil
}

func symOrNil(s Symbol) any {
	if s == "" {
		return nil
	}
	return s
}
