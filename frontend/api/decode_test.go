package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/contoso/orderflow/platform/orders"
)

func TestWholeNumber(t *testing.T) {
	for in, want := range map[string]int{"3": 3, "3.0": 3, "3e0": 3, "-2": -2, "1e300": 1<<31 - 1, "-1e300": -1 << 31} {
		if got, ok := wholeNumber([]byte(in)); !ok || got != want {
			t.Errorf("wholeNumber(%s) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"3.5", `"3"`, "true", "{}", "1e-3"} {
		if _, ok := wholeNumber([]byte(in)); ok {
			t.Errorf("wholeNumber(%s) accepted", in)
		}
	}
}

// FuzzDecodeOrder checks the decoder's contract on arbitrary bodies: it never
// panics; it either returns input that passes the domain's validation, or a
// domain error that is EINVALID or ETOOLARGE; every field it names is one the
// page can place; and an accepted order survives a JSON round trip unchanged.
func FuzzDecodeOrder(f *testing.F) {
	for _, seed := range []string{
		`{"customerId":"c-1","items":[{"productId":"mug-ceramic","quantity":2}],"note":"hi"}`,
		`{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":1},{"productId":"grinder-hand","quantity":100}]}`,
		`{"customerId":"","items":[]}`,
		`{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":"1"}]}`,
		`{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":1e400}]}`,
		`{"customerId":"c","items":[null,3,"x",{}]}`,
		`{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":1,"x":1}],"y":2}`,
		`{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":1}]} {}`,
		`{"note":"\u0000"}`,
		// Duplicated keys, at the top, in an item, only by case, and nested deeper.
		`{"customerId":"a","customerId":"b","items":[{"productId":"mug-ceramic","quantity":1}]}`,
		`{"customerId":"a","items":[{"productId":"mug-ceramic","quantity":1,"quantity":2}]}`,
		`{"customerId":"a","Note":"x","note":"y","items":[{"productId":"mug-ceramic","quantity":1}]}`,
		`{"customerId":"a","items":[{"productId":"mug-ceramic","quantity":{"a":1,"a":2}}]}`,
		`[]`, `null`, ``, `{`,
	} {
		f.Add([]byte(seed))
	}
	catalog := orders.DefaultCatalog()
	fieldName := func(s string) bool {
		switch s {
		case "customerId", "items", "note":
			return true
		}
		return strings.HasPrefix(s, "items[")
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		limited := http.MaxBytesReader(httptest.NewRecorder(), bodyReader(body), orders.MaxBodyBytes)
		in, err := decodeOrder(limited, catalog)
		if err != nil {
			var de *orders.Error
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a domain error", err)
			}
			if de.Code != orders.EINVALID && de.Code != orders.ETOOLARGE {
				t.Fatalf("code %s for a bad body", de.Code)
			}
			for _, fe := range de.Fields {
				if fe.Message == "" || fe.Field == "" {
					t.Fatalf("empty field error %+v", fe)
				}
				// Unknown top-level fields are named as sent; everything else
				// must be a field the form has.
				if !fieldName(fe.Field) && !strings.Contains(fe.Message, "not a known field") {
					t.Fatalf("field %q is not one the page can show", fe.Field)
				}
			}
			return
		}
		if field, dup := duplicateKey(body); dup {
			t.Fatalf("accepted a body that has %q twice", field)
		}
		if verr := in.Validate(catalog); verr != nil {
			t.Fatalf("accepted input fails validation: %v", verr)
		}
		b, merr := json.Marshal(in)
		if merr != nil {
			t.Fatal(merr)
		}
		again, err := decodeOrder(bytes.NewReader(b), catalog)
		if err != nil {
			t.Fatalf("re-decoding accepted input %s: %v", b, err)
		}
		if again.CustomerID != in.CustomerID || again.Note != in.Note || !slices.Equal(again.Items, in.Items) {
			t.Fatalf("round trip changed %+v into %+v", in, again)
		}
	})
}

func bodyReader(b []byte) *readCloser { return &readCloser{bytes.NewReader(b)} }

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// FuzzDecodePathsAgree holds decodeOrder's one-pass path to the item-by-item one it
// falls back to: on every body the one-pass path takes, both give the same input
// and the same error.
func FuzzDecodePathsAgree(f *testing.F) {
	for _, seed := range []string{
		`{"customerId":"c-1","items":[{"productId":"mug-ceramic","quantity":2}],"note":"hi"}`,
		`{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":"1"}]}`,
		`{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":2.5},{"productId":"nope","quantity":0}]}`,
		`{"customerId":"c","items":[null]}`, `{"customerId":"c","items":[{}]}`, `{"items":null}`,
		`{"customerId":"a","items":[{"productId":"mug-ceramic","quantity":1,"Quantity":2}]}`,
		`{"customerId":"c","items":[{"productId":"mug-ceramic","quantity":1}]} {}`,
	} {
		f.Add([]byte(seed))
	}
	catalog := orders.DefaultCatalog()
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, fastErr, ok := decodeTyped(body, catalog)
		if !ok {
			return
		}
		slow, slowErr := decodeItemByItem(body, catalog)
		if !reflect.DeepEqual(fast, slow) || !reflect.DeepEqual(fastErr, slowErr) {
			t.Fatalf("body %s: one pass gave %+v, %v; item by item %+v, %v", body, fast, fastErr, slow, slowErr)
		}
	})
}
