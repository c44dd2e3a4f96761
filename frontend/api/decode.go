package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/contoso/orderflow/platform/orders"
)

// wireOrder is the request body of POST /api/orders as it arrives. Items stay raw
// so each one is decoded on its own: encoding/json names a bad field "items.quantity"
// without the index, and the page needs "items[2].quantity" to mark the right row.
type wireOrder struct {
	CustomerID *string           `json:"customerId"`
	Items      []json.RawMessage `json:"items"`
	Note       *string           `json:"note"`
}

// wireItem is one raw item; Quantity stays raw to tell "not a number" from "out of range".
type wireItem struct {
	ProductID *string         `json:"productId"`
	Quantity  json.RawMessage `json:"quantity"`
}

// decodeOrder reads a POST /api/orders body (already limited by the caller) and
// returns the input or an *orders.Error: EINVALID naming every bad field, or
// ETOOLARGE when the body hit its limit. Validation against the catalog and the
// domain's limits is part of it, so a nil error means the order can be placed.
func decodeOrder(body io.Reader, catalog *orders.Catalog) (orders.PlaceOrderInput, error) {
	var in orders.PlaceOrderInput
	// The body is read whole (the caller's limit keeps it small) because it is
	// scanned more than once: decoded, then checked for duplicate keys.
	raw, err := io.ReadAll(body)
	if err != nil {
		return in, jsonError(err, "")
	}
	// A well-formed order decodes in one pass with its items; anything the strict
	// decode refuses is decoded again item by item, which names the bad field with
	// its index. Both end in finishOrder, so they accept and refuse alike
	// (FuzzDecodePathsAgree).
	if in, err, ok := decodeTyped(raw, catalog); ok {
		return in, err
	}
	return decodeItemByItem(raw, catalog)
}

// decodeTyped decodes raw with its items in one pass; ok is false when the strict
// decode refused it, for decodeItemByItem to say why.
func decodeTyped(raw []byte, catalog *orders.Catalog) (in orders.PlaceOrderInput, err error, ok bool) {
	var t typedOrder
	if strictDecode(raw, &t) != nil || !t.itemsAreObjects() {
		return in, nil, false
	}
	w := wireOrder{CustomerID: t.CustomerID, Note: t.Note}
	in, err = finishOrder(raw, w, len(t.Items), func(i int) (orders.Item, []orders.FieldError, bool) {
		it, errs := itemFrom(*t.Items[i], itemPrefix(i))
		return it, errs, false
	}, catalog)
	return in, err, true
}

// decodeItemByItem decodes raw with each item on its own, so that a bad one is
// named with its index.
func decodeItemByItem(raw []byte, catalog *orders.Catalog) (orders.PlaceOrderInput, error) {
	var w wireOrder
	if err := strictDecode(raw, &w); err != nil {
		return orders.PlaceOrderInput{}, err
	}
	return finishOrder(raw, w, len(w.Items), func(i int) (orders.Item, []orders.FieldError, bool) {
		return decodeItem(w.Items[i], i)
	}, catalog)
}

// typedOrder is wireOrder with its items decoded in the same pass.
type typedOrder struct {
	CustomerID *string     `json:"customerId"`
	Items      []*wireItem `json:"items"`
	Note       *string     `json:"note"`
}

// itemsAreObjects reports whether every item was an object: a null item decodes
// to nil without an error, and only the item-by-item path says it must be an object.
func (o *typedOrder) itemsAreObjects() bool {
	for _, it := range o.Items {
		if it == nil {
			return false
		}
	}
	return true
}

// strictDecode decodes the single JSON value raw holds into v, refusing unknown
// fields and anything after the value ("{}{}" is as malformed as a broken object).
func strictDecode(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, "")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &orders.Error{Code: orders.EINVALID, Message: "The request body must be a single JSON object."}
	}
	return nil
}

// finishOrder completes a decoded body: the duplicate-key check, then items
// 0..count-1 (item(i) gives the i-th, its field errors, and whether it could not
// be read at all), then validation.
func finishOrder(raw []byte, w wireOrder, count int, item func(i int) (orders.Item, []orders.FieldError, bool), catalog *orders.Catalog) (orders.PlaceOrderInput, error) {
	var in orders.PlaceOrderInput
	// encoding/json keeps the last of duplicated keys; a body that says two
	// things about one field is refused rather than guessed at. Checked after
	// the decode, so syntax errors and unknown fields are reported as such.
	if field, ok := duplicateKey(raw); ok {
		return in, &orders.Error{Code: orders.EINVALID, Message: "The request body has a field more than once.",
			Fields: []orders.FieldError{{Field: field, Message: "appears more than once; send each field once"}}}
	}

	var fields []orders.FieldError
	var bad map[string]bool // fields already reported; made at the first
	markBad := func(field string) {
		if bad == nil {
			bad = make(map[string]bool)
		}
		bad[field] = true
	}
	add := func(field, msg string) {
		fields = append(fields, orders.FieldError{Field: field, Message: msg})
		markBad(field)
	}
	if w.CustomerID != nil {
		in.CustomerID = *w.CustomerID
	}
	if w.Note != nil {
		in.Note = *w.Note
	}
	// Items past the domain's maximum are not decoded: Validate reports the count.
	n := min(count, orders.MaxItems+1)
	in.Items = make([]orders.Item, 0, n)
	for i := range n {
		it, errs, whole := item(i)
		for _, fe := range errs {
			add(fe.Field, fe.Message)
		}
		if whole {
			// The item could not be read at all; its empty fields would only
			// repeat that as "is required".
			prefix := itemPrefix(i)
			markBad(prefix + ".productId")
			markBad(prefix + ".quantity")
		}
		in.Items = append(in.Items, it)
	}
	if count > orders.MaxItems {
		in.Items = padItems(in.Items, count)
	}
	if err := in.Validate(catalog); err != nil {
		// Keep only the first message per field: an item whose quantity was
		// "ten" is already reported as not a number, not also as out of range.
		for _, fe := range orders.ErrorFields(err) {
			if !bad[fe.Field] {
				add(fe.Field, fe.Message)
			}
		}
		if len(fields) == 0 {
			return in, err
		}
	}
	if len(fields) > 0 {
		return in, &orders.Error{Code: orders.EINVALID, Message: "The order is not valid.", Fields: fields}
	}
	return in, nil
}

func itemPrefix(i int) string { return "items[" + strconv.Itoa(i) + "]" }

// padItems grows items to n with empty items so that Validate's item-count rule
// sees the real count without this package decoding every extra item.
func padItems(items []orders.Item, n int) []orders.Item {
	for len(items) < n {
		items = append(items, orders.Item{})
	}
	return items
}

// decodeItem decodes the i-th item, reporting problems under "items[i]..." names;
// whole reports that the item could not be decoded at all.
func decodeItem(raw json.RawMessage, i int) (it orders.Item, errs []orders.FieldError, whole bool) {
	prefix := itemPrefix(i)
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return it, []orders.FieldError{{Field: prefix, Message: "must be an object"}}, true
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var w wireItem
	if err := dec.Decode(&w); err != nil {
		var e *orders.Error
		if errors.As(jsonError(err, prefix), &e) && len(e.Fields) > 0 {
			return it, e.Fields, true
		}
		return it, []orders.FieldError{{Field: prefix, Message: "must be an object"}}, true
	}
	it, errs = itemFrom(w, prefix)
	return it, errs, false
}

// itemFrom turns a decoded item into the domain's, with a field error when the
// quantity is not a whole number.
func itemFrom(w wireItem, prefix string) (it orders.Item, errs []orders.FieldError) {
	if w.ProductID != nil {
		it.ProductID = *w.ProductID
	}
	if q := bytes.TrimSpace(w.Quantity); len(q) > 0 && !bytes.Equal(q, []byte("null")) {
		n, ok := wholeNumber(q)
		if !ok {
			errs = append(errs, orders.FieldError{Field: prefix + ".quantity", Message: "must be a whole number"})
		} else {
			it.Quantity = n
		}
	}
	return it, errs
}

// wholeNumber parses a JSON number that is an integer ("3", "3.0" and "3e0" are;
// "3.5" and "\"3\"" are not), clamping huge values so range checks still apply.
func wholeNumber(raw []byte) (int, bool) {
	if raw[0] == '"' {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	if math.IsInf(f, 0) {
		return math.MaxInt32, true
	}
	if f != math.Trunc(f) {
		return 0, false
	}
	if f > math.MaxInt32 {
		return math.MaxInt32, true
	}
	if f < math.MinInt32 {
		return math.MinInt32, true
	}
	return int(f), true
}

// jsonError classifies a json.Decoder error as a domain error; prefix is the
// field path of the object being decoded ("" for the top level).
func jsonError(err error, prefix string) error {
	join := func(name string) string {
		if prefix == "" {
			return name
		}
		return prefix + "." + name
	}
	var mbe *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return &orders.Error{Code: orders.ETOOLARGE, Message: fmt.Sprintf("The request body is larger than %d bytes.", mbe.Limit), Err: err}
	case errors.Is(err, errSlowBody):
		return &orders.Error{Code: orders.EINVALID, Message: "The request body arrived too slowly; " + err.Error() + ".", Err: err}
	case errors.Is(err, io.EOF):
		return &orders.Error{Code: orders.EINVALID, Message: "The request body is empty; send a JSON object.", Err: err}
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return &orders.Error{Code: orders.EINVALID, Message: "The request body is not valid JSON.", Err: err}
	case errors.As(err, &typ):
		if typ.Field == "" {
			return &orders.Error{Code: orders.EINVALID, Message: "The request body must be a JSON object.", Err: err}
		}
		want := "a string"
		switch typ.Field {
		case "items":
			want = "an array"
		case "quantity":
			want = "a whole number"
		}
		return &orders.Error{Code: orders.EINVALID, Message: "The order is not valid.", Err: err,
			Fields: []orders.FieldError{{Field: join(typ.Field), Message: "must be " + want}}}
	}
	// encoding/json reports unknown fields only as text: json: unknown field "x".
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if uq, uerr := strconv.Unquote(name); uerr == nil && uq != "" {
			name = uq
		}
		return &orders.Error{Code: orders.EINVALID, Message: "The order has a field this API does not know.", Err: err,
			Fields: []orders.FieldError{{Field: join(name), Message: "is not a known field"}}}
	}
	return &orders.Error{Code: orders.EINVALID, Message: "The request body could not be read.", Err: err}
}
