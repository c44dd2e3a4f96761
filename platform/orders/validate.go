package orders

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Input limits. They bound every request so that one caller cannot make the services
// allocate or store without limit; MaxBodyBytes and MaxAttachmentBytes are defaults that
// configuration may lower (MAX_BODY_BYTES, MAX_ATTACHMENT_BYTES).
const (
	MaxBodyBytes            = 64 << 10     // JSON body of POST /api/orders
	MaxAttachmentBytes      = 10 << 20     // one attachment
	MaxItems                = 50           // items per order
	MaxQuantity             = 100          // units per item
	MaxNoteLength           = 500          // characters (runes) in Order.Note
	MaxIDLength             = 64           // characters in a customer, order or product ID
	MaxAttachments          = 10           // attachments per order
	MaxAttachmentNameLength = 128          // characters in an attachment name
	MaxUnitPrice            = 1_000_000_00 // cents; keeps totals far from int64 overflow
	MaxListLimit            = 100          // orders per page of ListByCustomer
	DefaultListLimit        = 20           // orders per page when the caller gives no limit
	MaxContinuationLength   = 4096         // bytes in a ListByCustomer continuation token
)

// DefaultAttachmentTypes are the media types accepted as attachments unless the
// configuration (ALLOWED_ATTACHMENT_TYPES) narrows or widens the list.
var DefaultAttachmentTypes = []string{"image/png", "image/jpeg", "application/pdf", "text/plain"}

// PlaceOrderInput is what a customer submits to place an order.
type PlaceOrderInput struct {
	CustomerID string `json:"customerId"`
	Items      []Item `json:"items"`
	Note       string `json:"note,omitempty"`
}

// Validate checks the input against the limits and the catalog, returning an EINVALID
// *Error listing every problem found (not only the first), or nil.
func (in PlaceOrderInput) Validate(c *Catalog) error {
	var fields []FieldError
	add := func(field, format string, args ...any) {
		fields = append(fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if msg := checkID(in.CustomerID); msg != "" {
		add("customerId", "%s", msg)
	}
	switch {
	case len(in.Items) == 0:
		add("items", "must contain at least one item")
	case len(in.Items) > MaxItems:
		add("items", "must contain at most %d items", MaxItems)
	default:
		seen := make(map[string]int, len(in.Items))
		for i, it := range in.Items {
			if it.ProductID == "" {
				add(fmt.Sprintf("items[%d].productId", i), "is required")
			} else if _, ok := c.Lookup(it.ProductID); !ok {
				add(fmt.Sprintf("items[%d].productId", i), "unknown product %q", truncate(it.ProductID, MaxIDLength))
			} else if j, dup := seen[it.ProductID]; dup {
				add(fmt.Sprintf("items[%d].productId", i), "duplicates items[%d]; raise its quantity instead", j)
			} else {
				seen[it.ProductID] = i
			}
			if it.Quantity < 1 || it.Quantity > MaxQuantity {
				add(fmt.Sprintf("items[%d].quantity", i), "must be between 1 and %d", MaxQuantity)
			}
		}
	}
	if n := utf8.RuneCountInString(in.Note); n > MaxNoteLength {
		add("note", "must be at most %d characters (got %d)", MaxNoteLength, n)
	} else if !utf8.ValidString(in.Note) {
		add("note", "must be valid UTF-8")
	} else if strings.IndexFunc(in.Note, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0 {
		add("note", "must not contain control characters")
	}
	if len(fields) > 0 {
		return &Error{Code: EINVALID, Message: "The order is not valid.", Fields: fields}
	}
	return nil
}

// NewOrder validates in and returns a Pending, unpublished order priced from the
// catalog, with a fresh ID and timestamps at now.
func NewOrder(in PlaceOrderInput, c *Catalog, now time.Time) (*Order, error) {
	if err := in.Validate(c); err != nil {
		return nil, err
	}
	_, total, err := c.Price(in.Items)
	if err != nil {
		return nil, err
	}
	now = now.UTC()
	return &Order{
		ID:         NewID(),
		CustomerID: in.CustomerID,
		Items:      append([]Item(nil), in.Items...),
		Note:       in.Note,
		Status:     StatusPending,
		Total:      total,
		CreatedAt:  now,
		UpdatedAt:  now,
	}, nil
}

// ValidateCustomerID returns an EINVALID error unless id is a usable customer ID.
func ValidateCustomerID(id string) error {
	if msg := checkID(id); msg != "" {
		return &Error{Code: EINVALID, Message: "The customer ID is not valid.", Fields: []FieldError{{Field: "customerId", Message: msg}}}
	}
	return nil
}

// ValidateOrderID returns an EINVALID error unless id is a usable order ID. IDs end up
// in Cosmos DB document IDs and blob names, so only a safe alphabet is accepted.
func ValidateOrderID(id string) error {
	if msg := checkID(id); msg != "" {
		return &Error{Code: EINVALID, Message: "The order ID is not valid.", Fields: []FieldError{{Field: "id", Message: msg}}}
	}
	return nil
}

// ValidateAttachmentName returns an EINVALID error unless name is a safe file name:
// no path separators, no leading dot, letters, digits, space, '.', '_', '-', '(' and ')'.
func ValidateAttachmentName(name string) error {
	msg := ""
	switch {
	case name == "":
		msg = "is required"
	case utf8.RuneCountInString(name) > MaxAttachmentNameLength:
		msg = fmt.Sprintf("must be at most %d characters", MaxAttachmentNameLength)
	case strings.HasPrefix(name, ".") || strings.HasPrefix(name, " ") || strings.HasSuffix(name, " "):
		msg = "must not start with a dot or start or end with a space"
	default:
		for _, r := range name {
			if !(r < utf8.RuneSelf && (isIDChar(byte(r)) || r == ' ' || r == '(' || r == ')')) {
				msg = fmt.Sprintf("must not contain %q: use letters, digits, space, '.', '_', '-', '(' and ')'", r)
				break
			}
		}
	}
	if msg != "" {
		return &Error{Code: EINVALID, Message: "The attachment name is not valid.", Fields: []FieldError{{Field: "name", Message: msg}}}
	}
	return nil
}

// ValidateContinuation returns an EINVALID error naming "continuation" unless tok
// ("" meaning the first page) has the shape of a token a store issues. Cosmos DB's
// tokens ("+RID:~…#RT:1#TRC:20#ISV:2", or JSON for cross-partition queries) are
// visible ASCII, and they travel back to Cosmos DB in the x-ms-continuation header:
// a control character there makes the HTTP client refuse the request, which would
// surface as an outage instead of the caller's mistake. So only printable ASCII is
// accepted (spaces inside, as JSON may have, but not at either end, where header
// parsing would trim them), up to MaxContinuationLength bytes. The store still
// judges the content.
func ValidateContinuation(tok string) error {
	msg := ""
	switch {
	case tok == "":
		return nil
	case len(tok) > MaxContinuationLength:
		msg = "is not a continuation token this API issued (too long)"
	case tok[0] == ' ' || tok[len(tok)-1] == ' ':
		msg = "is not a continuation token this API issued (it must not start or end with a space)"
	default:
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; c < 0x20 || c > 0x7e {
				msg = "is not a continuation token this API issued (it may contain only printable ASCII characters)"
				break
			}
		}
	}
	if msg != "" {
		return &Error{Code: EINVALID, Message: "The continuation token is not valid; pass back the one a page returned.",
			Fields: []FieldError{{Field: "continuation", Message: msg}}}
	}
	return nil
}

// checkID returns "" for a valid ID or what is wrong with it.
func checkID(id string) string {
	if id == "" {
		return "is required"
	}
	if len(id) > MaxIDLength {
		return fmt.Sprintf("must be at most %d characters", MaxIDLength)
	}
	if id[0] == '.' {
		// "." and ".." would be path segments in blob names.
		return "must not start with '.'"
	}
	for i := 0; i < len(id); i++ {
		if !isIDChar(id[i]) {
			return "may contain only letters, digits, '.', '_' and '-'"
		}
	}
	return ""
}

func isIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// truncate shortens s to n bytes for echoing untrusted input back in messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
