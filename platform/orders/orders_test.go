package orders_test

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/orders"
)

func TestErrorCodeAndMessage(t *testing.T) {
	plain := errors.New("dial tcp: connection refused")
	dom := orders.Errorf(orders.ENOTFOUND, "Order %s not found.", "o1")
	wrapped := fmt.Errorf("get order: %w", dom)
	cases := []struct {
		err       error
		code, msg string
	}{
		{nil, "", ""},
		{plain, orders.EINTERNAL, "An internal error has occurred."},
		{dom, orders.ENOTFOUND, "Order o1 not found."},
		{wrapped, orders.ENOTFOUND, "Order o1 not found."},
		{orders.WrapError(orders.EUNAVAILABLE, "Cosmos DB is unavailable.", plain), orders.EUNAVAILABLE, "Cosmos DB is unavailable."},
	}
	for _, c := range cases {
		if got := orders.ErrorCode(c.err); got != c.code {
			t.Errorf("ErrorCode(%v) = %q, want %q", c.err, got, c.code)
		}
		if got := orders.ErrorMessage(c.err); got != c.msg {
			t.Errorf("ErrorMessage(%v) = %q, want %q", c.err, got, c.msg)
		}
	}
	// The cause stays reachable for logs and errors.Is.
	if e := orders.WrapError(orders.EUNAVAILABLE, "x", plain); !errors.Is(e, plain) || !strings.Contains(e.Error(), "connection refused") {
		t.Errorf("WrapError loses its cause: %v", e)
	}
	if orders.IsRetryable(dom) || !orders.IsRetryable(plain) || !orders.IsRetryable(orders.Errorf(orders.EPRECONDITION, "x")) || orders.IsRetryable(nil) {
		t.Error("IsRetryable misclassifies")
	}
}

func fields(err error) map[string]string {
	m := map[string]string{}
	for _, f := range orders.ErrorFields(err) {
		m[f.Field] = f.Message
	}
	return m
}

func TestValidate(t *testing.T) {
	cat := orders.DefaultCatalog()
	ok := orders.PlaceOrderInput{CustomerID: "alice", Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: 2}}, Note: "ring twice\nthanks"}
	if err := ok.Validate(cat); err != nil {
		t.Fatalf("valid input refused: %v", err)
	}
	many := make([]orders.Item, orders.MaxItems+1)
	cases := []struct {
		name string
		in   orders.PlaceOrderInput
		want []string // fields expected in the error
	}{
		{"empty", orders.PlaceOrderInput{}, []string{"customerId", "items"}},
		{"bad customer", orders.PlaceOrderInput{CustomerID: "a/b", Items: ok.Items}, []string{"customerId"}},
		{"dot customer", orders.PlaceOrderInput{CustomerID: "..", Items: ok.Items}, []string{"customerId"}},
		{"long customer", orders.PlaceOrderInput{CustomerID: strings.Repeat("a", orders.MaxIDLength+1), Items: ok.Items}, []string{"customerId"}},
		{"too many items", orders.PlaceOrderInput{CustomerID: "a", Items: many}, []string{"items"}},
		{"item problems", orders.PlaceOrderInput{CustomerID: "a", Items: []orders.Item{
			{ProductID: "mug-ceramic", Quantity: 0},
			{ProductID: "nope", Quantity: 1},
			{ProductID: "", Quantity: orders.MaxQuantity + 1},
			{ProductID: "mug-ceramic", Quantity: 1},
		}}, []string{"items[0].quantity", "items[1].productId", "items[2].productId", "items[2].quantity", "items[3].productId"}},
		{"long note", orders.PlaceOrderInput{CustomerID: "a", Items: ok.Items, Note: strings.Repeat("é", orders.MaxNoteLength+1)}, []string{"note"}},
		{"control note", orders.PlaceOrderInput{CustomerID: "a", Items: ok.Items, Note: "a\x00b"}, []string{"note"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.in.Validate(cat)
			if orders.ErrorCode(err) != orders.EINVALID {
				t.Fatalf("code = %q (%v), want invalid", orders.ErrorCode(err), err)
			}
			got := fields(err)
			if len(got) != len(c.want) {
				t.Errorf("fields = %v, want exactly %v", got, c.want)
			}
			for _, f := range c.want {
				if got[f] == "" {
					t.Errorf("no message for field %s; got %v", f, got)
				}
			}
		})
	}
	// A note of exactly the limit in multi-byte characters is fine: the limit is runes.
	edge := ok
	edge.Note = strings.Repeat("é", orders.MaxNoteLength)
	if err := edge.Validate(cat); err != nil {
		t.Errorf("note at the limit refused: %v", err)
	}
}

func TestNewOrderPricesAndDefaults(t *testing.T) {
	cat := orders.DefaultCatalog()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	o, err := orders.NewOrder(orders.PlaceOrderInput{CustomerID: "bob", Items: []orders.Item{
		{ProductID: "mug-ceramic", Quantity: 3}, {ProductID: "filter-papers-100", Quantity: 1},
	}}, cat, now)
	if err != nil {
		t.Fatal(err)
	}
	if o.Total != 3*1200+499 {
		t.Errorf("total = %d", o.Total)
	}
	if o.Status != orders.StatusPending || o.Published || !o.CreatedAt.Equal(now) || o.CreatedAt.Location() != time.UTC {
		t.Errorf("order = %+v", o)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(o.ID) {
		t.Errorf("ID %q is not a v4 UUID", o.ID)
	}
	if err := orders.ValidateOrderID(o.ID); err != nil {
		t.Errorf("generated ID fails validation: %v", err)
	}
	if _, err := orders.NewOrder(orders.PlaceOrderInput{CustomerID: "bob"}, cat, now); orders.ErrorCode(err) != orders.EINVALID {
		t.Errorf("invalid input accepted: %v", err)
	}
}

func TestCatalog(t *testing.T) {
	if _, err := orders.NewCatalog(orders.Product{ID: "a", UnitPrice: 1}, orders.Product{ID: "a", UnitPrice: 2}); err == nil {
		t.Error("duplicate product accepted")
	}
	if _, err := orders.NewCatalog(orders.Product{ID: "a", UnitPrice: 0}); err == nil {
		t.Error("free product accepted")
	}
	cat := orders.DefaultCatalog()
	ps := cat.Products()
	for i := 1; i < len(ps); i++ {
		if ps[i-1].ID >= ps[i].ID {
			t.Errorf("products not sorted: %v", ps)
		}
	}
	_, _, err := cat.Price([]orders.Item{{ProductID: "gone", Quantity: 1}})
	if orders.ErrorCode(err) != orders.EINVALID || fields(err)["items[0].productId"] == "" {
		t.Errorf("unknown product priced: %v", err)
	}
}

func TestAttachmentName(t *testing.T) {
	for _, good := range []string{"photo.jpg", "My receipt (1).pdf", "a_b-c.txt"} {
		if err := orders.ValidateAttachmentName(good); err != nil {
			t.Errorf("%q refused: %v", good, err)
		}
	}
	for _, bad := range []string{"", ".htaccess", "../x", "a/b", `a\b`, "a\x00", "ünï.txt", " x", strings.Repeat("a", orders.MaxAttachmentNameLength+1)} {
		if err := orders.ValidateAttachmentName(bad); orders.ErrorCode(err) != orders.EINVALID {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestValidateContinuation(t *testing.T) {
	// Shapes the stores issue: the emulator's and Cosmos DB's single-partition
	// tokens, a cross-partition JSON one, and the in-memory store's offset.
	for _, good := range []string{"", "+RID:~AbC=#RT:1#TRC:2#ISV:2#QH:9f", `[{"token":"-RID:~x==#RT:1","range":{"min":"","max":"FF"}}]`, "20", "a b"} {
		if err := orders.ValidateContinuation(good); err != nil {
			t.Errorf("%q refused: %v", good, err)
		}
	}
	for _, bad := range []string{"\x00", "a\nb", "\r", "\t", "\x7f", "été", "\xff", " x", "x ", strings.Repeat("z", orders.MaxContinuationLength+1)} {
		err := orders.ValidateContinuation(bad)
		if f := orders.ErrorFields(err); orders.ErrorCode(err) != orders.EINVALID || len(f) != 1 || f[0].Field != "continuation" {
			t.Errorf("%.20q: %v, want EINVALID naming continuation", bad, err)
		}
	}
}

func TestOrderClone(t *testing.T) {
	now := time.Now()
	o := &orders.Order{Items: []orders.Item{{ProductID: "a", Quantity: 1}}, Attachments: []orders.Attachment{{Name: "x"}}, PublishedAt: &now}
	c := o.Clone()
	c.Items[0].Quantity = 9
	c.Attachments[0].Name = "y"
	*c.PublishedAt = now.Add(time.Hour)
	if o.Items[0].Quantity != 1 || o.Attachments[0].Name != "x" || !o.PublishedAt.Equal(now) {
		t.Error("Clone shares memory with the original")
	}
}
