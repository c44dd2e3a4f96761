package orders_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/orders"
)

func sampleReceipt(t *testing.T) *orders.Receipt {
	t.Helper()
	o := &orders.Order{ID: "o-1", CustomerID: "alice", Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: 2}, {ProductID: "grinder-hand", Quantity: 1}}}
	r, err := orders.NewReceipt(o, orders.DefaultCatalog(), time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReceiptSignVerify(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	r := sampleReceipt(t)
	if r.Total != 2*1200+6900 || len(r.Lines) != 2 || r.Sum() != nil {
		t.Fatalf("receipt = %+v", r)
	}
	if r.IssuedAt.Nanosecond() != 123000000 {
		t.Errorf("IssuedAt not truncated to ms: %v", r.IssuedAt)
	}
	if err := r.Sign(key, "v1"); err != nil {
		t.Fatal(err)
	}
	if r.KeyVersion != "v1" || r.Signature == "" {
		t.Fatalf("not signed: %+v", r)
	}
	if err := r.Verify(key); err != nil {
		t.Fatalf("own signature refused: %v", err)
	}

	// The signature survives the JSON round trip through storage.
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := orders.DecodeReceipt(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(key); err != nil {
		t.Fatalf("decoded receipt refused: %v", err)
	}

	// Any change to a signed field, or another key, breaks it.
	tamper := []func(r *orders.Receipt){
		func(r *orders.Receipt) { r.Total++ },
		func(r *orders.Receipt) { r.Lines[0].Quantity++ },
		func(r *orders.Receipt) { r.Lines[1].Name = "Free grinder" },
		func(r *orders.Receipt) { r.CustomerID = "mallory" },
		func(r *orders.Receipt) { r.OrderID = "o-2" },
		func(r *orders.Receipt) { r.IssuedAt = r.IssuedAt.Add(time.Millisecond) },
		func(r *orders.Receipt) { r.KeyVersion = "v2" },
		func(r *orders.Receipt) { r.Lines = r.Lines[:1] },
		func(r *orders.Receipt) { r.Signature = "!!" },
	}
	for i, f := range tamper {
		c, _ := orders.DecodeReceipt(bytes.NewReader(b))
		f(c)
		if err := c.Verify(key); orders.ErrorCode(err) != orders.EINVALID {
			t.Errorf("tamper %d verified: %v", i, err)
		}
	}
	if err := back.Verify([]byte("another key")); orders.ErrorCode(err) != orders.EINVALID {
		t.Errorf("wrong key verified: %v", err)
	}
	if err := r.Sign(nil, "v"); err == nil {
		t.Error("empty key accepted")
	}
}

func TestReceiptCanonicalIsInjectionSafe(t *testing.T) {
	// A name that tries to forge another line must not collide with a real one.
	a := &orders.Receipt{OrderID: "o", Lines: []orders.ReceiptLine{{ProductID: "p", Name: "x\ntotal=0"}}}
	bb := &orders.Receipt{OrderID: "o", Lines: []orders.ReceiptLine{{ProductID: "p", Name: "x"}}}
	if bytes.Equal(a.Canonical(), bb.Canonical()) || strings.Count(string(a.Canonical()), "\n") != strings.Count(string(bb.Canonical()), "\n") {
		t.Errorf("canonical form is ambiguous:\n%s", a.Canonical())
	}
}

func TestDecodeReceiptRejects(t *testing.T) {
	for _, in := range []string{"", "{", `{"orderId":"o"}`, `{"orderId":"o","keyVersion":"v","signature":"s","extra":1}`} {
		if _, err := orders.DecodeReceipt(strings.NewReader(in)); orders.ErrorCode(err) != orders.EINVALID {
			t.Errorf("DecodeReceipt(%q) = %v", in, err)
		}
	}
}
