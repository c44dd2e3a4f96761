package query

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
)

// undefinedType is the type of Undefined.
type undefinedType struct{}

// Undefined is the Cosmos "undefined" value: a missing property, or the result of an
// operation on operands of the wrong type. It never appears in JSON output.
var Undefined = undefinedType{}

// IsUndefined reports whether v is Undefined.
func IsUndefined(v any) bool { _, ok := v.(undefinedType); return ok }

// Object is a projected row: properties in the order the SELECT list names them,
// which is how Cosmos returns them (a Go map would sort them).
type Object struct {
	Keys []string
	Vals []any
}

// MarshalJSON writes the properties in order.
func (o *Object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.Keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.Vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// typeRank orders values of different types for ORDER BY, MIN and MAX.
func typeRank(v any) int {
	switch x := v.(type) {
	case undefinedType:
		return 0
	case nil:
		return 1
	case bool:
		if x {
			return 3
		}
		return 2
	case float64:
		return 4
	case string:
		return 5
	case []any:
		return 6
	case map[string]any, *Object:
		return 7
	}
	return 8
}

// Compare totally orders any two values the way ORDER BY does.
func Compare(a, b any) int {
	ra, rb := typeRank(a), typeRank(b)
	if ra != rb {
		return cmpInt(ra, rb)
	}
	switch x := a.(type) {
	case float64:
		y := b.(float64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case string:
		return strings.Compare(x, b.(string))
	case []any:
		y := b.([]any)
		for i := 0; i < len(x) && i < len(y); i++ {
			if c := Compare(x[i], y[i]); c != 0 {
				return c
			}
		}
		return cmpInt(len(x), len(y))
	case map[string]any, *Object:
		return strings.Compare(canonical(a), canonical(b))
	}
	return 0
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareSame compares values for the relational operators: only values of the
// same primitive type are ordered; anything else is undefined (ok=false).
func compareSame(a, b any) (int, bool) {
	switch x := a.(type) {
	case float64:
		if y, ok := b.(float64); ok {
			return Compare(x, y), true
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), true
		}
	case bool:
		if y, ok := b.(bool); ok {
			return Compare(x, y), true
		}
	case nil:
		if b == nil {
			return 0, true
		}
	}
	return 0, false
}

// equal implements "=": undefined when either side is undefined or the types differ,
// deep equality for arrays and objects.
func equal(a, b any) any {
	if IsUndefined(a) || IsUndefined(b) {
		return Undefined
	}
	if typeRank(a) != typeRank(b) {
		if isBool(a) && isBool(b) {
			return false
		}
		return Undefined
	}
	return deepEqual(a, b)
}

func isBool(v any) bool { _, ok := v.(bool); return ok }

func deepEqual(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !deepEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !deepEqual(v, w) {
				return false
			}
		}
		return true
	case *Object:
		return canonical(a) == canonical(b)
	}
	return a == b
}

// canonical renders a value as JSON with sorted keys, for DISTINCT and object ordering.
func canonical(v any) string {
	if o, ok := v.(*Object); ok {
		m := make(map[string]any, len(o.Keys))
		for i, k := range o.Keys {
			m[k] = o.Vals[i]
		}
		v = m
	}
	if IsUndefined(v) {
		return "undefined"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// toInt converts a whole, non-negative number argument (TOP, OFFSET, LIMIT).
func toInt(v any) (int, bool) {
	f, ok := v.(float64)
	if !ok || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, false
	}
	return int(f), true
}

// plain turns a projected row into an ordinary object so that expressions can
// use it (a subquery's result inside the enclosing query).
func plain(v any) any {
	if o, ok := v.(*Object); ok {
		m := make(map[string]any, len(o.Keys))
		for i, k := range o.Keys {
			m[k] = o.Vals[i]
		}
		return m
	}
	return v
}
