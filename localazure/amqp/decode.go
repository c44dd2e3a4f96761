package amqp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrMalformed is wrapped by every decoding failure, so a connection can answer
// any of them with amqp:decode-error.
var ErrMalformed = errors.New("amqp: malformed encoding")

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 64

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// decoder reads AMQP-encoded values from a byte slice. Binary values alias the
// input: callers that keep them beyond the input's lifetime must copy.
type decoder struct {
	b     []byte
	off   int
	depth int
}

// Unmarshal decodes one value from b and returns it with the number of bytes used.
func Unmarshal(b []byte) (any, int, error) {
	d := decoder{b: b}
	v, err := d.value()
	return v, d.off, err
}

func (d *decoder) need(n int) error {
	if n < 0 || len(d.b)-d.off < n {
		return malformed("need %d bytes at offset %d, have %d", n, d.off, len(d.b)-d.off)
	}
	return nil
}

func (d *decoder) byte1() (byte, error) {
	if err := d.need(1); err != nil {
		return 0, err
	}
	c := d.b[d.off]
	d.off++
	return c, nil
}

func (d *decoder) take(n int) ([]byte, error) {
	if err := d.need(n); err != nil {
		return nil, err
	}
	s := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return s, nil
}

func (d *decoder) u16() (uint16, error) {
	s, err := d.take(2)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(s), nil
}

func (d *decoder) u32() (uint32, error) {
	s, err := d.take(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(s), nil
}

func (d *decoder) u64() (uint64, error) {
	s, err := d.take(8)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(s), nil
}

// value decodes the next value, constructor included.
func (d *decoder) value() (any, error) {
	code, err := d.byte1()
	if err != nil {
		return nil, err
	}
	if code == codeDescribed {
		return d.described()
	}
	return d.primitive(code)
}

func (d *decoder) described() (any, error) {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxDepth {
		return nil, malformed("nesting deeper than %d", maxDepth)
	}
	desc, err := d.value()
	if err != nil {
		return nil, err
	}
	switch desc.(type) {
	case uint64, Symbol:
	default:
		return nil, malformed("descriptor of type %T", desc)
	}
	val, err := d.value()
	if err != nil {
		return nil, err
	}
	if code, ok := desc.(uint64); ok {
		c, ok, err := decodeComposite(code, val)
		if err != nil {
			return nil, err
		}
		if ok {
			return c, nil
		}
	}
	return &Described{Descriptor: desc, Value: val}, nil
}

// primitive decodes a value whose constructor byte has been read.
func (d *decoder) primitive(code byte) (any, error) {
	switch code {
	case codeNull:
		return nil, nil
	case codeTrue:
		return true, nil
	case codeFalse:
		return false, nil
	case codeBool:
		c, err := d.byte1()
		return c != 0, err
	case codeUbyte:
		return d.byte1()
	case codeByte:
		c, err := d.byte1()
		return int8(c), err
	case codeUshort:
		return d.u16()
	case codeShort:
		v, err := d.u16()
		return int16(v), err
	case codeUint0:
		return uint32(0), nil
	case codeSmallUint:
		c, err := d.byte1()
		return uint32(c), err
	case codeUint:
		return d.u32()
	case codeUlong0:
		return uint64(0), nil
	case codeSmallUlong:
		c, err := d.byte1()
		return uint64(c), err
	case codeUlong:
		return d.u64()
	case codeSmallInt:
		c, err := d.byte1()
		return int32(int8(c)), err
	case codeInt:
		v, err := d.u32()
		return int32(v), err
	case codeSmallLong:
		c, err := d.byte1()
		return int64(int8(c)), err
	case codeLong:
		v, err := d.u64()
		return int64(v), err
	case codeFloat:
		v, err := d.u32()
		return math.Float32frombits(v), err
	case codeDouble:
		v, err := d.u64()
		return math.Float64frombits(v), err
	case codeDecimal32:
		s, err := d.take(4)
		if err != nil {
			return nil, err
		}
		return Decimal32(s), nil
	case codeDecimal64:
		s, err := d.take(8)
		if err != nil {
			return nil, err
		}
		return Decimal64(s), nil
	case codeDecimal128:
		s, err := d.take(16)
		if err != nil {
			return nil, err
		}
		return Decimal128(s), nil
	case codeChar:
		v, err := d.u32()
		return Char(v), err
	case codeTimestamp:
		v, err := d.u64()
		return time.UnixMilli(int64(v)).UTC(), err
	case codeUUID:
		s, err := d.take(16)
		if err != nil {
			return nil, err
		}
		return UUID(s), nil
	case codeVbin8, codeStr8, codeSym8:
		n, err := d.byte1()
		if err != nil {
			return nil, err
		}
		return d.variable(code, int(n))
	case codeVbin32, codeStr32, codeSym32:
		n, err := d.u32()
		if err != nil {
			return nil, err
		}
		if n > math.MaxInt32 {
			return nil, malformed("length %d", n)
		}
		return d.variable(code, int(n))
	case codeList0:
		return []any(nil), nil
	case codeList8, codeList32, codeMap8, codeMap32, codeArray8, codeArray32:
		return d.compound(code)
	}
	return nil, malformed("unknown type code 0x%02x at offset %d", code, d.off-1)
}

func (d *decoder) variable(code byte, n int) (any, error) {
	s, err := d.take(n)
	if err != nil {
		return nil, err
	}
	switch code {
	case codeVbin8, codeVbin32:
		return s, nil
	case codeStr8, codeStr32:
		return string(s), nil
	}
	return Symbol(s), nil
}

// compound decodes a list, map or array: size, count, then the elements, all of
// which must lie within the declared size.
func (d *decoder) compound(code byte) (any, error) {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxDepth {
		return nil, malformed("nesting deeper than %d", maxDepth)
	}
	var size, count int
	wide := code == codeList32 || code == codeMap32 || code == codeArray32
	if wide {
		s, err := d.u32()
		if err != nil {
			return nil, err
		}
		if s < 4 || s > math.MaxInt32 {
			return nil, malformed("compound size %d", s)
		}
		c, err := d.u32()
		if err != nil {
			return nil, err
		}
		size, count = int(s)-4, int(c)
	} else {
		s, err := d.byte1()
		if err != nil {
			return nil, err
		}
		if s < 1 {
			return nil, malformed("compound size %d", s)
		}
		c, err := d.byte1()
		if err != nil {
			return nil, err
		}
		size, count = int(s)-1, int(c)
	}
	body, err := d.take(size)
	if err != nil {
		return nil, err
	}
	// Every element takes at least one byte (arrays: elements may take zero bytes
	// only for null-like constructors, which we bound separately).
	sub := decoder{b: body, depth: d.depth}
	switch code {
	case codeList8, codeList32:
		if count > size {
			return nil, malformed("list count %d exceeds size %d", count, size)
		}
		out := make([]any, count)
		for i := range out {
			if out[i], err = sub.value(); err != nil {
				return nil, err
			}
		}
		return out, nil
	case codeMap8, codeMap32:
		if count%2 != 0 || count > size {
			return nil, malformed("map count %d", count)
		}
		m := make(map[any]any, count/2)
		for i := 0; i < count; i += 2 {
			k, err := sub.value()
			if err != nil {
				return nil, err
			}
			v, err := sub.value()
			if err != nil {
				return nil, err
			}
			if !hashable(k) {
				return nil, malformed("map key of type %T", k)
			}
			m[k] = v
		}
		return m, nil
	}
	return sub.array(count)
}

func hashable(k any) bool {
	switch k.(type) {
	case []byte, []any, map[any]any:
		return false
	case []Symbol, []string, []int64, []int32, []uint32, []uint64, []time.Time, []UUID, [][]byte, []bool:
		return false
	}
	return true
}

// array decodes count elements sharing one constructor.
func (d *decoder) array(count int) (any, error) {
	ctor, err := d.byte1()
	if err != nil {
		return nil, err
	}
	var desc any
	if ctor == codeDescribed {
		if desc, err = d.value(); err != nil {
			return nil, err
		}
		if ctor, err = d.byte1(); err != nil {
			return nil, err
		}
	}
	// Fixed-width zero-byte constructors could claim billions of elements in a few
	// bytes; cap them at what the frame could plausibly hold.
	if count > len(d.b)-d.off && !(count <= 1<<16) {
		return nil, malformed("array count %d", count)
	}
	elem := func() (any, error) {
		switch ctor {
		case codeList8, codeList32, codeMap8, codeMap32, codeArray8, codeArray32:
			return d.compound(ctor)
		}
		return d.primitive(ctor)
	}
	if desc != nil {
		out := make([]any, 0, min(count, 1024))
		for range count {
			v, err := elem()
			if err != nil {
				return nil, err
			}
			out = append(out, &Described{Descriptor: desc, Value: v})
		}
		return out, nil
	}
	switch ctor {
	case codeSym8, codeSym32:
		return arrayOf[Symbol](count, elem)
	case codeStr8, codeStr32:
		return arrayOf[string](count, elem)
	case codeLong, codeSmallLong:
		return arrayOf[int64](count, elem)
	case codeInt, codeSmallInt:
		return arrayOf[int32](count, elem)
	case codeUint, codeSmallUint, codeUint0:
		return arrayOf[uint32](count, elem)
	case codeUlong, codeSmallUlong, codeUlong0:
		return arrayOf[uint64](count, elem)
	case codeTimestamp:
		return arrayOf[time.Time](count, elem)
	case codeUUID:
		return arrayOf[UUID](count, elem)
	case codeVbin8, codeVbin32:
		return arrayOf[[]byte](count, elem)
	case codeBool, codeTrue, codeFalse:
		return arrayOf[bool](count, elem)
	}
	out := make([]any, 0, min(count, 1024))
	for range count {
		v, err := elem()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func arrayOf[T any](count int, elem func() (any, error)) (any, error) {
	out := make([]T, 0, min(count, 1024))
	for range count {
		v, err := elem()
		if err != nil {
			return nil, err
		}
		t, ok := v.(T)
		if !ok {
			return nil, malformed("array element %T", v)
		}
		out = append(out, t)
	}
	return out, nil
}

// stringMap decodes a map whose keys are strings (or symbols) straight into a
// map[string]any, as application-properties are: one map instead of two.
func (d *decoder) stringMap() (map[string]any, error) {
	code, err := d.byte1()
	if err != nil {
		return nil, err
	}
	if code == codeNull {
		return nil, nil
	}
	if code != codeMap8 && code != codeMap32 {
		return nil, malformed("application-properties is type 0x%02x, not a map", code)
	}
	var size, count int
	if code == codeMap32 {
		sz, err := d.u32()
		if err != nil {
			return nil, err
		}
		c, err := d.u32()
		if err != nil {
			return nil, err
		}
		if sz < 4 || sz > math.MaxInt32 {
			return nil, malformed("map size %d", sz)
		}
		size, count = int(sz)-4, int(c)
	} else {
		sz, err := d.byte1()
		if err != nil {
			return nil, err
		}
		c, err := d.byte1()
		if err != nil {
			return nil, err
		}
		if sz < 1 {
			return nil, malformed("map size %d", sz)
		}
		size, count = int(sz)-1, int(c)
	}
	body, err := d.take(size)
	if err != nil {
		return nil, err
	}
	if count%2 != 0 || count > size {
		return nil, malformed("map count %d", count)
	}
	sub := decoder{b: body, depth: d.depth + 1}
	m := make(map[string]any, count/2)
	for i := 0; i < count; i += 2 {
		k, err := sub.value()
		if err != nil {
			return nil, err
		}
		var key string
		switch k := k.(type) {
		case string:
			key = k
		case Symbol:
			key = string(k)
		default:
			return nil, malformed("application-properties key of type %T", k)
		}
		v, err := sub.value()
		if err != nil {
			return nil, err
		}
		m[key] = v
	}
	return m, nil
}
