package orders

import (
	"crypto/rand"
	"fmt"
	"time"
)

// Status is where an order is in its life: Pending until the backend has issued its
// receipt, then Completed, or Failed when it can never be completed.
type Status string

// The order statuses.
const (
	StatusPending   Status = "Pending"
	StatusCompleted Status = "Completed"
	StatusFailed    Status = "Failed"
)

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	return s == StatusPending || s == StatusCompleted || s == StatusFailed
}

// Item is one line of an order: a catalog product and how many of it.
type Item struct {
	ProductID string `json:"productId"`
	Quantity  int    `json:"quantity"`
}

// Attachment describes a file stored with an order (its bytes live in the
// AttachmentStore, under the order's ID and the attachment's Name).
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
}

// Order is a customer's order. It is partitioned by CustomerID in the OrderStore, so a
// customer's orders are read together and a point read needs both IDs.
type Order struct {
	ID          string       `json:"id"`
	CustomerID  string       `json:"customerId"`
	Items       []Item       `json:"items"`
	Note        string       `json:"note,omitempty"`
	Status      Status       `json:"status"`
	Total       int64        `json:"total"` // integer cents, never floats for money
	Attachments []Attachment `json:"attachments,omitempty"`

	// ReceiptBlob is the receipt's blob name in the receipts container and
	// ReceiptKeyVersion the Key Vault secret version that signed it; both are set when
	// the order is Completed.
	ReceiptBlob       string `json:"receiptBlob,omitempty"`
	ReceiptKeyVersion string `json:"receiptKeyVersion,omitempty"`
	// FailureReason says why a Failed order can never be completed.
	FailureReason string `json:"failureReason,omitempty"`

	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// ETag is the store's version of the document, used for optimistic concurrency.
	// Stores set it on every read and write; it is not part of the API representation.
	ETag string `json:"-"`

	// Published and PublishedAt are the outbox flag: the OrderPlaced message has been
	// accepted by Service Bus. The Reconciler re-sends orders left unpublished.
	Published   bool       `json:"published"`
	PublishedAt *time.Time `json:"publishedAt,omitempty"`

	// CompletedPublished and CompletedPublishedAt are the same kind of flag for
	// OrderCompleted: the topic accepted it. The worker skips publishing when it is
	// set, so a redelivered OrderPlaced (after the topic's duplicate-detection
	// window, or after a broker restart lost that history) does not publish a
	// second event. A crash between the publish and the flag can still yield one
	// duplicate, with the same event ID, which consumers drop.
	CompletedPublished   bool       `json:"completedPublished,omitempty"`
	CompletedPublishedAt *time.Time `json:"completedPublishedAt,omitempty"`
}

// ReceiptRef is where an order's receipt is and which key version signed it.
type ReceiptRef struct {
	Blob       string
	KeyVersion string
}

// ReceiptBlobName is the blob name of an order's receipt in the receipts container.
// It is derived from the order ID alone so that every redelivery of the same order
// targets the same blob, which is what makes the conditional create idempotent.
func ReceiptBlobName(orderID string) string { return orderID + ".json" }

// AttachmentBlobName is the blob name of an order's attachment in the attachments
// container. Names are validated (ValidateAttachmentName) before they get here.
func AttachmentBlobName(orderID, name string) string { return orderID + "/" + name }

// NewID returns a random RFC 4122 version 4 UUID in its canonical text form, used as
// order ID. Random IDs keep writes spread over the store and reveal nothing.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand.Read never fails on supported platforms (it panics internally
		// first); this keeps the signature simple for callers.
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Clone returns a deep copy of o, so fakes and callers can hand out orders without
// sharing slices.
func (o *Order) Clone() *Order {
	if o == nil {
		return nil
	}
	c := *o
	c.Items = append([]Item(nil), o.Items...)
	c.Attachments = append([]Attachment(nil), o.Attachments...)
	if o.PublishedAt != nil {
		t := *o.PublishedAt
		c.PublishedAt = &t
	}
	if o.CompletedPublishedAt != nil {
		t := *o.CompletedPublishedAt
		c.CompletedPublishedAt = &t
	}
	return &c
}
