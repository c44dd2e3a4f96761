package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestDuplicateKey(t *testing.T) {
	for body, want := range map[string]string{
		`{"customerId":"a","customerId":"b"}`:                                    "customerId",
		`{"note":"x","Note":"y"}`:                                                "Note",
		`{"items":[{"quantity":1},{"productId":"p","quantity":1,"quantity":2}]}`: "items[1].quantity",
		`{"items":[{"quantity":{"a":1,"a":2}}]}`:                                 "items[0].quantity.a",
		`[[1,{"k":1,"K":2}]]`:                                                    "[0][1].K",
		`{"n\u006fte":1,"note":2}`:                                               "note",
		`{"a\"b":1,"A\"B":2}`:                                                    `A"B`,
		` { "x" : [ ] , "y" : { } , "x" : null } `:                               "x",
		`{"straße":1,"STRASSE":2,"Straße":3}`:                                    "Straße",
	} {
		if got, ok := duplicateKey([]byte(body)); !ok || got != want {
			t.Errorf("duplicateKey(%s) = %q, %v; want %q", body, got, ok, want)
		}
	}
	for _, body := range []string{
		`{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":2},{"productId":"mug-ceramic","quantity":2}],"note":"a,b}\"{"}`,
		`{"a":{"a":{"a":1}}}`, `[{"a":1},{"a":1}]`, `"a"`, `3`, `null`, `{}`, `[]`,
		`{"a":1`, `{"a" 1, "a": 2}`, ``,
	} {
		if got, ok := duplicateKey([]byte(body)); ok {
			t.Errorf("duplicateKey(%s) = %q; want none", body, got)
		}
	}
}

// FuzzDuplicateKey holds the byte scanner to the answer of encoding/json's own
// tokenizer (tokenDuplicateKey, the way this check was first written) on every
// valid JSON document.
func FuzzDuplicateKey(f *testing.F) {
	for _, seed := range []string{
		`{"customerId":"a","customerId":"b"}`, `{"items":[{"q":1},{"q":1,"Q":2}]}`,
		`{"a\u0041":1,"aa":2}`, `[1,[2,{"x":[],"y":{},"x":3}]]`, `{"é":1,"É":2}`, `"s"`, `{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return
		}
		gotPath, got := duplicateKey(body)
		wantPath, want := tokenDuplicateKey(body)
		if got != want || gotPath != wantPath {
			t.Fatalf("duplicateKey(%s) = %q, %v; encoding/json's tokens say %q, %v", body, gotPath, got, wantPath, want)
		}
	})
}

func tokenDuplicateKey(data []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var found bool
	field, err := tokenScan(dec, "", &found)
	return field, err == nil && found
}

// tokenScan is the first duplicateKey, except that it also reports a duplicated
// empty key at the top ({"":0,"":0}), which the first one took for none.
func tokenScan(dec *json.Decoder, path string, found *bool) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	switch tok {
	case json.Delim('{'):
		seen := make(map[string]bool)
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", err
			}
			key, _ := kt.(string)
			name := key
			if path != "" {
				name = path + "." + key
			}
			if seen[strings.ToLower(key)] {
				*found = true
				return name, nil
			}
			seen[strings.ToLower(key)] = true
			if dup, err := tokenScan(dec, name, found); err != nil || *found {
				return dup, err
			}
		}
		_, err = dec.Token()
		return "", err
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if dup, err := tokenScan(dec, fmt.Sprintf("%s[%d]", path, i), found); err != nil || *found {
				return dup, err
			}
		}
		_, err = dec.Token()
		return "", err
	}
	return "", nil
}

func BenchmarkDuplicateKey(b *testing.B) {
	body := []byte(`{"customerId":"load-007","items":[{"productId":"mug-ceramic","quantity":2},{"productId":"filter-papers-100","quantity":1}]}`)
	b.Run("bytes", func(b *testing.B) {
		for b.Loop() {
			duplicateKey(body)
		}
	})
	b.Run("tokens", func(b *testing.B) {
		for b.Loop() {
			tokenDuplicateKey(body)
		}
	})
}
