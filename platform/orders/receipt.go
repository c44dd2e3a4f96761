package orders

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ReceiptLine is one priced line of a receipt; Amount = UnitPrice × Quantity, in cents.
type ReceiptLine struct {
	ProductID string `json:"productId"`
	Name      string `json:"name"`
	Quantity  int    `json:"quantity"`
	UnitPrice int64  `json:"unitPrice"`
	Amount    int64  `json:"amount"`
}

// Receipt is the backend's signed statement of what an order cost. Signature is
// base64(HMAC-SHA256(key, canonical encoding of every other field)) under the Key Vault
// secret version named by KeyVersion, so it can be verified after the key rotates.
type Receipt struct {
	OrderID    string        `json:"orderId"`
	CustomerID string        `json:"customerId"`
	Lines      []ReceiptLine `json:"lines"`
	Total      int64         `json:"total"`
	IssuedAt   time.Time     `json:"issuedAt"`
	KeyVersion string        `json:"keyVersion"`
	Signature  string        `json:"signature"`
}

// ReceiptFormat names the canonical encoding; it is the first line of what is signed so
// that a future format can never verify under the old one.
const ReceiptFormat = "orderflow-receipt-v1"

// NewReceipt prices o with the catalog and returns an unsigned receipt issued at now.
func NewReceipt(o *Order, c *Catalog, now time.Time) (*Receipt, error) {
	lines, total, err := c.Price(o.Items)
	if err != nil {
		return nil, err
	}
	return &Receipt{
		OrderID:    o.ID,
		CustomerID: o.CustomerID,
		Lines:      lines,
		Total:      total,
		// Truncated to milliseconds: JSON round trips and other languages keep that much.
		IssuedAt: now.UTC().Truncate(time.Millisecond),
	}, nil
}

// Canonical returns the bytes that are signed: one field per line, strings quoted with
// strconv.Quote (so no value can inject a line), times in RFC 3339 UTC with
// milliseconds. It does not depend on JSON field order or whitespace.
func (r *Receipt) Canonical() []byte {
	var b strings.Builder
	b.WriteString(ReceiptFormat + "\n")
	fmt.Fprintf(&b, "orderId=%s\n", strconv.Quote(r.OrderID))
	fmt.Fprintf(&b, "customerId=%s\n", strconv.Quote(r.CustomerID))
	fmt.Fprintf(&b, "lines=%d\n", len(r.Lines))
	for _, l := range r.Lines {
		fmt.Fprintf(&b, "line=%s,%s,%d,%d,%d\n", strconv.Quote(l.ProductID), strconv.Quote(l.Name), l.Quantity, l.UnitPrice, l.Amount)
	}
	fmt.Fprintf(&b, "total=%d\n", r.Total)
	fmt.Fprintf(&b, "issuedAt=%s\n", r.IssuedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	fmt.Fprintf(&b, "keyVersion=%s\n", strconv.Quote(r.KeyVersion))
	return []byte(b.String())
}

// Sign sets KeyVersion to version and Signature to the HMAC-SHA256 of the canonical
// encoding under key.
func (r *Receipt) Sign(key []byte, version string) error {
	if len(key) == 0 {
		return errors.New("sign receipt: empty signing key")
	}
	r.KeyVersion = version
	r.Signature = base64.StdEncoding.EncodeToString(r.mac(key))
	return nil
}

// Verify checks the signature with key, which must be the secret version named by
// r.KeyVersion. It returns an EINVALID *Error when the receipt was altered or signed
// with another key.
func (r *Receipt) Verify(key []byte) error {
	if len(key) == 0 {
		return errors.New("verify receipt: empty key")
	}
	sig, err := base64.StdEncoding.DecodeString(r.Signature)
	if err != nil || !hmac.Equal(sig, r.mac(key)) {
		return Errorf(EINVALID, "The receipt for order %s has an invalid signature.", r.OrderID)
	}
	return nil
}

// Sum checks that every line's amount and the total add up.
func (r *Receipt) Sum() error {
	var total int64
	for i, l := range r.Lines {
		if l.Amount != l.UnitPrice*int64(l.Quantity) {
			return Errorf(EINVALID, "receipt line %d: amount %d != %d × %d", i, l.Amount, l.UnitPrice, l.Quantity)
		}
		total += l.Amount
	}
	if total != r.Total {
		return Errorf(EINVALID, "receipt total %d != sum of lines %d", r.Total, total)
	}
	return nil
}

func (r *Receipt) mac(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(r.Canonical())
	return m.Sum(nil)
}

// Encode returns the receipt's JSON document as stored in the receipts container.
func (r *Receipt) Encode() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode receipt %s: %w", r.OrderID, err)
	}
	return append(b, '\n'), nil
}

// DecodeReceipt reads a receipt JSON document (at most 1 MiB, far above any real one).
func DecodeReceipt(rd io.Reader) (*Receipt, error) {
	var r Receipt
	dec := json.NewDecoder(io.LimitReader(rd, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, WrapError(EINVALID, "The receipt is not a valid document.", err)
	}
	if r.OrderID == "" || r.KeyVersion == "" || r.Signature == "" {
		return nil, Errorf(EINVALID, "The receipt is missing its order ID, key version or signature.")
	}
	return &r, nil
}

// Ref returns where the receipt is stored and which key version signed it.
func (r *Receipt) Ref() ReceiptRef {
	return ReceiptRef{Blob: ReceiptBlobName(r.OrderID), KeyVersion: r.KeyVersion}
}
