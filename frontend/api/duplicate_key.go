package api

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// duplicateKey reports the first key that occurs twice in one JSON object of
// data, at any depth, named by its path ("note", "items[1].quantity"). Keys are
// compared case-insensitively because that is how encoding/json matches them to
// fields: "note" and "Note" would fill the same one. data must be valid JSON
// (the caller decoded it first); anything else reports no duplicate.
//
// It walks the bytes itself instead of reading json.Decoder tokens: the tokenizer
// allocated an interface per token and made this check 60% of an order's decode,
// for a body the decoder has already validated.
func duplicateKey(data []byte) (string, bool) {
	s := keyScanner{data: data}
	s.skipSpace()
	s.value()
	if s.dup == nil {
		return "", false
	}
	return s.dup.path(), true
}

// keyScanner walks one valid JSON value. It stops at the first duplicate, which it
// leaves in dup with the path to it.
type keyScanner struct {
	data []byte
	i    int
	// at is the path to the value being scanned: object keys and array indexes.
	at  []pathStep
	dup *duplicate
}

type pathStep struct {
	key   string // the key as sent, for an object member
	index int    // for an array element, when key is ""
	array bool
}

type duplicate struct{ steps []pathStep }

// path names the duplicate the way field errors do: "items[1].quantity".
func (d *duplicate) path() string {
	var b strings.Builder
	for _, st := range d.steps {
		if st.array {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(st.index))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(st.key)
	}
	return b.String()
}

func (s *keyScanner) skipSpace() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans the value at s.i; false means stop (a duplicate, or input that is
// not valid JSON after all).
func (s *keyScanner) value() bool {
	if s.i >= len(s.data) {
		return false
	}
	switch s.data[s.i] {
	case '{':
		return s.object()
	case '[':
		return s.array()
	case '"':
		_, _, ok := s.str()
		return ok
	}
	// A number, true, false or null: up to the next delimiter.
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return true
		}
		s.i++
	}
	return true
}

// str scans a string at s.i and returns its raw contents (between the quotes) and
// whether it has escapes.
func (s *keyScanner) str() (raw []byte, escaped, ok bool) {
	start := s.i + 1
	for j := start; j < len(s.data); j++ {
		switch s.data[j] {
		case '\\':
			escaped = true
			j++ // the escaped byte cannot end the string
		case '"':
			s.i = j + 1
			return s.data[start:j], escaped, true
		}
	}
	return nil, false, false
}

// keyName decodes a key as encoding/json would see it; raw is the key without
// quotes.
func keyName(raw []byte, escaped bool) string {
	if !escaped {
		return string(raw)
	}
	var k string
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	if json.Unmarshal(quoted, &k) != nil {
		return string(raw)
	}
	return k
}

// folded is the key's case-insensitive form. ASCII keys, which are all a valid
// order has, fold without allocating a second string.
func folded(key string) string {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return strings.ToLower(key)
		}
	}
	return key
}

func (s *keyScanner) object() bool {
	s.i++ // '{'
	// An order's objects have two or three keys: a slice beats a map.
	var seen []string
	s.at = append(s.at, pathStep{})
	defer func() { s.at = s.at[:len(s.at)-1] }()
	for {
		s.skipSpace()
		if s.i >= len(s.data) {
			return false
		}
		if s.data[s.i] == '}' {
			s.i++
			return true
		}
		if s.data[s.i] == ',' {
			s.i++
			s.skipSpace()
		}
		if s.i >= len(s.data) || s.data[s.i] != '"' {
			return false
		}
		raw, escaped, ok := s.str()
		if !ok {
			return false
		}
		key := keyName(raw, escaped)
		s.at[len(s.at)-1] = pathStep{key: key}
		f := folded(key)
		for _, k := range seen {
			if k == f {
				s.dup = &duplicate{steps: append([]pathStep(nil), s.at...)}
				return false
			}
		}
		seen = append(seen, f)
		s.skipSpace()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return false
		}
		s.i++
		s.skipSpace()
		if !s.value() {
			return false
		}
	}
}

func (s *keyScanner) array() bool {
	s.i++ // '['
	s.at = append(s.at, pathStep{array: true})
	defer func() { s.at = s.at[:len(s.at)-1] }()
	for n := 0; ; n++ {
		s.skipSpace()
		if s.i >= len(s.data) {
			return false
		}
		switch s.data[s.i] {
		case ']':
			s.i++
			return true
		case ',':
			s.i++
			s.skipSpace()
		}
		s.at[len(s.at)-1] = pathStep{array: true, index: n}
		if !s.value() {
			return false
		}
	}
}
