package orders

import (
	"context"
	"io"
	"time"
)

// OrderPage is one page of a customer's orders, newest first. Continuation is empty on
// the last page; otherwise pass it back to get the next page. It is opaque.
type OrderPage struct {
	Orders       []*Order
	Continuation string
}

// OrderStore keeps orders (Cosmos DB in production, partitioned by customer ID).
// Methods that change an order take it with the ETag from its last read and fail with
// EPRECONDITION when someone changed it since; on success they update the order in
// place, ETag included.
type OrderStore interface {
	// Create stores a new order; ECONFLICT if its ID exists.
	Create(ctx context.Context, o *Order) error
	// Get finds an order by ID alone (a cross-partition query: the worker's and the
	// reconciler's way in); ENOTFOUND if there is none.
	Get(ctx context.Context, id string) (*Order, error)
	// GetByCustomer reads one of a customer's orders (a point read); ENOTFOUND if that
	// customer has no such order.
	GetByCustomer(ctx context.Context, customerID, id string) (*Order, error)
	// ListByCustomer returns up to limit (1..MaxListLimit) of a customer's orders,
	// newest first, starting at continuation ("" for the first page).
	ListByCustomer(ctx context.Context, customerID string, limit int, continuation string) (OrderPage, error)
	// MarkCompleted sets the order Completed with its receipt, and Published (an order
	// the worker completed was evidently delivered), if o.ETag is still current.
	MarkCompleted(ctx context.Context, o *Order, receipt ReceiptRef) error
	// MarkFailed sets a Pending order Failed with a reason, if o.ETag is still current.
	MarkFailed(ctx context.Context, o *Order, reason string) error
	// MarkPublished sets the outbox flag. It does not need the caller's ETag: it
	// re-reads and retries on concurrent changes, because the only field it sets can
	// never conflict with another writer's intent.
	MarkPublished(ctx context.Context, o *Order) error
	// MarkCompletedPublished sets the OrderCompleted outbox flag, re-reading and
	// retrying on concurrent changes like MarkPublished, for the same reason.
	MarkCompletedPublished(ctx context.Context, o *Order) error
	// AddAttachment records an attachment on the order (retrying on concurrent
	// changes); ECONFLICT when the order already has MaxAttachments or that name.
	AddAttachment(ctx context.Context, o *Order, a Attachment) error
	// ListUnpublished returns up to limit Pending orders that are not Published and
	// were created before olderThan, oldest first: the reconciler's work list.
	ListUnpublished(ctx context.Context, olderThan time.Time, limit int) ([]*Order, error)
}

// AttachmentStore keeps the files customers attach to orders (Blob Storage).
type AttachmentStore interface {
	// Put streams r into the order's attachment name without buffering it whole,
	// failing with ETOOLARGE (and storing nothing) once more than maxBytes were read.
	Put(ctx context.Context, orderID, name, contentType string, r io.Reader, maxBytes int64) (Attachment, error)
	// Get opens an attachment for reading; ENOTFOUND if it does not exist. The caller
	// closes the reader.
	Get(ctx context.Context, orderID, name string) (io.ReadCloser, Attachment, error)
}

// ReceiptStore keeps signed receipts (Blob Storage, one blob per order).
type ReceiptStore interface {
	// PutIfAbsent stores r unless the order already has a receipt (a conditional
	// create). It returns the receipt that is stored afterwards: r itself, or the
	// existing one, which the caller must use instead so that an order never has two
	// different receipts. created reports which.
	PutIfAbsent(ctx context.Context, r *Receipt) (stored *Receipt, created bool, err error)
	// Get opens the stored receipt document of an order; ENOTFOUND if none.
	Get(ctx context.Context, orderID string) (io.ReadCloser, error)
}

// Publisher sends OrderPlaced for an order to the orders queue, with the order ID as
// MessageId so that the queue's duplicate detection drops re-sends.
type Publisher interface {
	PublishOrderPlaced(ctx context.Context, o *Order) error
}

// EventPublisher publishes OrderCompleted to the order-events topic with MessageId
// CompletedEventID(order ID), so duplicate detection drops repeats.
type EventPublisher interface {
	PublishOrderCompleted(ctx context.Context, o *Order, r *Receipt) error
}

// SecretSource provides the receipt signing key (Key Vault).
type SecretSource interface {
	// SigningKey returns the current key and its version, for signing.
	SigningKey(ctx context.Context) (key []byte, version string, err error)
	// KeyVersion returns the key of a given version, for verifying receipts signed
	// before a rotation; ENOTFOUND if the version does not exist.
	KeyVersion(ctx context.Context, version string) ([]byte, error)
}
