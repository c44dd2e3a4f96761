package cosmosemu

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Items are stored only as their JSON (document.raw); queries, patches and
// restores decode what they need when they need it and keep nothing. The
// decoder here produces exactly what encoding/json's Unmarshal into an `any`
// produces (map[string]any, []any, string, float64, bool, nil) for the stored
// JSON, which is always valid, without reflection; a string with escapes or
// invalid UTF-8 is handed to encoding/json, and a number encoding/json would
// reject sends the whole document there, so results never differ.

// decodeDoc decodes a stored item in full.
func decodeDoc(raw []byte) map[string]any {
	d := jdec{b: raw}
	if v, ok := d.value(); ok {
		if m, isMap := v.(map[string]any); isMap {
			return m
		}
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

// decodeProps decodes only the named top-level properties of a stored item
// (the map holds those present); the result reads the same as the full decode
// for any expression over those properties. With distinct (the item's keys are
// known to be distinct) it stops once it has found every name; otherwise it
// reads to the end, because a repeated key's last value is the one that counts.
func decodeProps(raw []byte, names []string, distinct bool) map[string]any {
	return decodeInto(nil, raw, names, false, distinct)
}

// decodeInto is decodeProps (or, with all, the full decode) into m, which must
// be empty (nil: a new map); it returns the map it filled, which is another one
// when the item needs encoding/json.
func decodeInto(m map[string]any, raw []byte, names []string, all, distinct bool) map[string]any {
	if m == nil {
		m = make(map[string]any, len(names))
	}
	if len(names) == 0 && !all {
		return m
	}
	b := raw
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return decodeDoc(raw)
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return m
	}
	for i < len(b) {
		// Compare the key's bytes with the names without making a string; a key
		// with an escape or a non-ASCII byte is decoded first.
		if b[i] != '"' {
			return decodeDoc(raw)
		}
		ks := i + 1
		ke := ks
		for ke < len(b) && b[ke] != '"' && b[ke] != '\\' && b[ke] < utf8.RuneSelf {
			ke++
		}
		var key string
		var kb []byte
		if ke < len(b) && b[ke] == '"' {
			kb = b[ks:ke]
			i = ke + 1
		} else {
			d := jdec{b: b, i: i}
			var ok bool
			if key, ok = d.str(); !ok {
				return decodeDoc(raw)
			}
			i = d.i
		}
		if i < len(b) && b[i] != ':' {
			i = skipWS(b, i)
		}
		if i >= len(b) || b[i] != ':' {
			return decodeDoc(raw)
		}
		i++
		if i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i = skipWS(b, i)
		}
		wanted := all
		if all && kb != nil {
			key = string(kb)
		}
		for _, n := range names {
			if kb != nil && string(kb) == n || kb == nil && key == n {
				wanted, key = true, n
				break
			}
		}
		if wanted {
			d := jdec{b: b, i: i}
			v, ok := d.value()
			if !ok {
				return decodeDoc(raw)
			}
			i = d.i
			m[key] = v // a repeated key: the last one wins, as in encoding/json
			if distinct && !all && len(m) == len(names) {
				return m
			}
		} else {
			end := skipValue(b, i)
			if end < 0 {
				return decodeDoc(raw)
			}
			i = end
		}
		if i < len(b) && b[i] != ',' && b[i] != '}' {
			i = skipWS(b, i)
		}
		if i >= len(b) {
			break
		}
		if b[i] == '}' {
			return m
		}
		if b[i] != ',' {
			break
		}
		i++
		if i < len(b) && b[i] != '"' {
			i = skipWS(b, i)
		}
	}
	return decodeDoc(raw)
}

type jdec struct {
	b []byte
	i int
}

func (d *jdec) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// value decodes the value at d.i; ok is false when encoding/json should decode
// the whole input instead.
func (d *jdec) value() (any, bool) {
	if d.i >= len(d.b) {
		return nil, false
	}
	switch c := d.b[d.i]; c {
	case '{':
		d.i++
		m := map[string]any{}
		d.ws()
		if d.i < len(d.b) && d.b[d.i] == '}' {
			d.i++
			return m, true
		}
		for {
			d.ws()
			k, ok := d.str()
			if !ok {
				return nil, false
			}
			d.ws()
			if d.i >= len(d.b) || d.b[d.i] != ':' {
				return nil, false
			}
			d.i++
			d.ws()
			v, ok := d.value()
			if !ok {
				return nil, false
			}
			m[k] = v
			d.ws()
			if d.i >= len(d.b) {
				return nil, false
			}
			switch d.b[d.i] {
			case ',':
				d.i++
			case '}':
				d.i++
				return m, true
			default:
				return nil, false
			}
		}
	case '[':
		d.i++
		a := make([]any, 0)
		d.ws()
		if d.i < len(d.b) && d.b[d.i] == ']' {
			d.i++
			return a, true
		}
		for {
			d.ws()
			v, ok := d.value()
			if !ok {
				return nil, false
			}
			a = append(a, v)
			d.ws()
			if d.i >= len(d.b) {
				return nil, false
			}
			switch d.b[d.i] {
			case ',':
				d.i++
			case ']':
				d.i++
				return a, true
			default:
				return nil, false
			}
		}
	case '"':
		return d.str()
	case 't':
		return d.lit("true", true)
	case 'f':
		return d.lit("false", false)
	case 'n':
		return d.lit("null", nil)
	default:
		j := d.i
		for j < len(d.b) {
			switch d.b[j] {
			case '-', '+', '.', 'e', 'E', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
				j++
				continue
			}
			break
		}
		if j == d.i {
			return nil, false
		}
		f, err := strconv.ParseFloat(string(d.b[d.i:j]), 64)
		if err != nil {
			return nil, false // out of range: encoding/json's own behaviour applies
		}
		d.i = j
		return f, true
	}
}

func (d *jdec) lit(word string, v any) (any, bool) {
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return nil, false
	}
	d.i += len(word)
	return v, true
}

// str decodes the string at d.i.
func (d *jdec) str() (string, bool) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return "", false
	}
	start := d.i + 1
	plain := true
	j := start
	for ; j < len(d.b); j++ {
		c := d.b[j]
		if c == '"' {
			break
		}
		if c == '\\' {
			plain = false
			j++
			continue
		}
		if c >= utf8.RuneSelf {
			plain = false
		}
	}
	if j >= len(d.b) {
		return "", false
	}
	d.i = j + 1
	if plain || utf8.Valid(d.b[start:j]) && !hasByte(d.b[start:j], '\\') {
		return string(d.b[start:j]), true
	}
	var s string
	if err := json.Unmarshal(d.b[start-1:j+1], &s); err != nil {
		return "", false
	}
	return s, true
}

func hasByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}
