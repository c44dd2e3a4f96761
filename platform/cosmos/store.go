// Package cosmos implements orders.OrderStore on Azure Cosmos DB for NoSQL (azcosmos).
// Orders are documents partitioned by /customerId; updates use the document's _etag
// for optimistic concurrency.
package cosmos

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/contoso/orderflow/platform/internal/azerr"
	"github.com/contoso/orderflow/platform/orders"
)

// maxUpdateAttempts bounds the re-read-and-retry loop of updates that tolerate
// concurrent writers (MarkPublished, AddAttachment).
const maxUpdateAttempts = 5

// Store is the Cosmos DB OrderStore.
type Store struct {
	c   *azcosmos.ContainerClient
	now func() time.Time
}

var _ orders.OrderStore = (*Store)(nil)

// New returns a store over the orders container.
func New(c *azcosmos.ContainerClient) *Store { return &Store{c: c, now: time.Now} }

// doc is the stored form of an order: the order's JSON plus createdAtMs, a number the
// reconciler can compare (RFC 3339 strings with varying fraction digits do not sort).
type doc struct {
	*orders.Order
	CreatedAtMs int64 `json:"createdAtMs"`
}

// readDoc decodes a stored document, system properties included.
type readDoc struct {
	orders.Order
	ETag string `json:"_etag"`
}

func encode(o *orders.Order) ([]byte, error) {
	b, err := json.Marshal(doc{Order: o, CreatedAtMs: o.CreatedAt.UnixMilli()})
	if err != nil {
		return nil, fmt.Errorf("encode order %s: %w", o.ID, err)
	}
	return b, nil
}

func decode(b []byte) (*orders.Order, error) {
	var d readDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("decode order document: %w", err)
	}
	o := d.Order
	o.ETag = d.ETag
	return &o, nil
}

// Create implements orders.OrderStore.
func (s *Store) Create(ctx context.Context, o *orders.Order) error {
	b, err := encode(o)
	if err != nil {
		return err
	}
	resp, err := s.c.CreateItem(ctx, azcosmos.NewPartitionKeyString(o.CustomerID), b, nil)
	if err != nil {
		if azerr.StatusCode(err) == 409 {
			return orders.WrapError(orders.ECONFLICT, fmt.Sprintf("Order %s already exists.", o.ID), err)
		}
		return azerr.Wrap(err, fmt.Sprintf("create order %s", o.ID))
	}
	o.ETag = string(resp.ETag)
	return nil
}

// GetByCustomer implements orders.OrderStore with a point read.
func (s *Store) GetByCustomer(ctx context.Context, customerID, id string) (*orders.Order, error) {
	resp, err := s.c.ReadItem(ctx, azcosmos.NewPartitionKeyString(customerID), id, nil)
	if err != nil {
		if azerr.StatusCode(err) == 404 {
			return nil, orders.WrapError(orders.ENOTFOUND, fmt.Sprintf("Order %s not found.", id), err)
		}
		return nil, azerr.Wrap(err, fmt.Sprintf("read order %s", id))
	}
	o, err := decode(resp.Value)
	if err != nil {
		return nil, err
	}
	if o.ETag == "" {
		o.ETag = string(resp.ETag)
	}
	return o, nil
}

// Get implements orders.OrderStore with a cross-partition query on the id.
func (s *Store) Get(ctx context.Context, id string) (*orders.Order, error) {
	list, err := s.query(ctx, "SELECT * FROM c WHERE c.id = @id", []azcosmos.QueryParameter{{Name: "@id", Value: id}}, 1)
	if err != nil {
		return nil, fmt.Errorf("find order %s: %w", id, err)
	}
	if len(list) == 0 {
		return nil, orders.Errorf(orders.ENOTFOUND, "Order %s not found.", id)
	}
	return list[0], nil
}

// ListByCustomer implements orders.OrderStore: one page of a single-partition query,
// newest first; the continuation is Cosmos DB's own token.
func (s *Store) ListByCustomer(ctx context.Context, customerID string, limit int, continuation string) (orders.OrderPage, error) {
	if limit <= 0 || limit > orders.MaxListLimit {
		limit = orders.DefaultListLimit
	}
	// The token goes out as the x-ms-continuation header; one the HTTP client would
	// refuse to send is the caller's mistake, not an unavailable database.
	if err := orders.ValidateContinuation(continuation); err != nil {
		return orders.OrderPage{}, err
	}
	opts := &azcosmos.QueryOptions{
		PageSizeHint:    int32(limit),
		QueryParameters: []azcosmos.QueryParameter{{Name: "@customerId", Value: customerID}},
	}
	if continuation != "" {
		opts.ContinuationToken = &continuation
	}
	pager := s.c.NewQueryItemsPager("SELECT * FROM c WHERE c.customerId = @customerId ORDER BY c.createdAtMs DESC",
		azcosmos.NewPartitionKeyString(customerID), opts)
	resp, err := pager.NextPage(ctx)
	if err != nil {
		if azerr.StatusCode(err) == 400 && continuation != "" {
			return orders.OrderPage{}, orders.WrapError(orders.EINVALID, "The continuation token is not valid.", err)
		}
		return orders.OrderPage{}, azerr.Wrap(err, fmt.Sprintf("list orders of customer %s", customerID))
	}
	var page orders.OrderPage
	for _, b := range resp.Items {
		o, err := decode(b)
		if err != nil {
			return orders.OrderPage{}, err
		}
		page.Orders = append(page.Orders, o)
	}
	if resp.ContinuationToken != nil {
		page.Continuation = *resp.ContinuationToken
	}
	return page, nil
}

// ListUnpublished implements orders.OrderStore. The gateway cannot sort across
// partitions, so the query filters and this method sorts.
func (s *Store) ListUnpublished(ctx context.Context, olderThan time.Time, limit int) ([]*orders.Order, error) {
	list, err := s.query(ctx,
		"SELECT * FROM c WHERE c.status = @status AND c.published = false AND c.createdAtMs < @before",
		[]azcosmos.QueryParameter{{Name: "@status", Value: string(orders.StatusPending)}, {Name: "@before", Value: olderThan.UnixMilli()}}, 0)
	if err != nil {
		return nil, fmt.Errorf("list unpublished orders: %w", err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].CreatedAt.Before(list[j].CreatedAt) })
	if limit > 0 && len(list) > limit {
		list = list[:limit]
	}
	return list, nil
}

// query runs a cross-partition query to the end (or max results when max > 0),
// following continuations through empty pages as the gateway may return them.
func (s *Store) query(ctx context.Context, q string, params []azcosmos.QueryParameter, max int) ([]*orders.Order, error) {
	pager := s.c.NewQueryItemsPager(q, azcosmos.NewPartitionKey(), &azcosmos.QueryOptions{QueryParameters: params})
	var out []*orders.Order
	for pager.More() {
		resp, err := pager.NextPage(ctx)
		if err != nil {
			return nil, azerr.Wrap(err, "query orders")
		}
		for _, b := range resp.Items {
			o, err := decode(b)
			if err != nil {
				return nil, err
			}
			out = append(out, o)
			if max > 0 && len(out) >= max {
				return out, nil
			}
		}
	}
	return out, nil
}

// MarkCompleted implements orders.OrderStore.
func (s *Store) MarkCompleted(ctx context.Context, o *orders.Order, ref orders.ReceiptRef) error {
	return s.replaceIfMatch(ctx, o, func(d *orders.Order) error {
		if d.Status == orders.StatusFailed {
			return orders.Errorf(orders.ECONFLICT, "Order %s has failed and cannot be completed.", d.ID)
		}
		d.Status = orders.StatusCompleted
		d.ReceiptBlob, d.ReceiptKeyVersion = ref.Blob, ref.KeyVersion
		if !d.Published {
			t := s.now().UTC()
			d.Published, d.PublishedAt = true, &t
		}
		return nil
	}, fmt.Sprintf("mark order %s completed", o.ID))
}

// MarkFailed implements orders.OrderStore.
func (s *Store) MarkFailed(ctx context.Context, o *orders.Order, reason string) error {
	return s.replaceIfMatch(ctx, o, func(d *orders.Order) error {
		if d.Status == orders.StatusCompleted {
			return orders.Errorf(orders.ECONFLICT, "Order %s is already completed.", d.ID)
		}
		d.Status, d.FailureReason = orders.StatusFailed, reason
		return nil
	}, fmt.Sprintf("mark order %s failed", o.ID))
}

// MarkPublished implements orders.OrderStore.
func (s *Store) MarkPublished(ctx context.Context, o *orders.Order) error {
	return s.update(ctx, o, func(d *orders.Order) (bool, error) {
		if d.Published {
			return false, nil
		}
		t := s.now().UTC()
		d.Published, d.PublishedAt = true, &t
		return true, nil
	}, fmt.Sprintf("mark order %s published", o.ID))
}

// MarkCompletedPublished implements orders.OrderStore.
func (s *Store) MarkCompletedPublished(ctx context.Context, o *orders.Order) error {
	return s.update(ctx, o, func(d *orders.Order) (bool, error) {
		if d.CompletedPublished {
			return false, nil
		}
		t := s.now().UTC()
		d.CompletedPublished, d.CompletedPublishedAt = true, &t
		return true, nil
	}, fmt.Sprintf("mark order %s OrderCompleted published", o.ID))
}

// AddAttachment implements orders.OrderStore.
func (s *Store) AddAttachment(ctx context.Context, o *orders.Order, a orders.Attachment) error {
	return s.update(ctx, o, func(d *orders.Order) (bool, error) {
		for i, x := range d.Attachments {
			if x.Name == a.Name {
				d.Attachments[i] = a // the blob was overwritten too
				return true, nil
			}
		}
		if len(d.Attachments) >= orders.MaxAttachments {
			return false, orders.Errorf(orders.ECONFLICT, "Order %s already has %d attachments.", d.ID, orders.MaxAttachments)
		}
		d.Attachments = append(d.Attachments, a)
		return true, nil
	}, fmt.Sprintf("add attachment %s to order %s", a.Name, o.ID))
}

// replaceIfMatch applies change to a copy of o and replaces the document only if its
// etag is still o.ETag; on success o becomes the stored order.
func (s *Store) replaceIfMatch(ctx context.Context, o *orders.Order, change func(*orders.Order) error, what string) error {
	if o.ETag == "" {
		return fmt.Errorf("%s: the order has no etag (read it first)", what)
	}
	next := o.Clone()
	if err := change(next); err != nil {
		return err
	}
	return s.replace(ctx, next, o, what)
}

// update applies change and replaces the document with If-Match until the replace wins
// the etag race (or change reports nothing to do); on success o becomes the stored
// order. The first try works on o itself when it carries an etag (the caller just
// created, read or wrote it): if nobody wrote in between, that saves a point read per
// update, which is one of the four Cosmos calls of every POST /api/orders; if somebody
// did, Cosmos answers 412 and the loop re-reads, exactly as without the shortcut.
func (s *Store) update(ctx context.Context, o *orders.Order, change func(*orders.Order) (bool, error), what string) error {
	if o.ETag != "" {
		next := o.Clone()
		changed, err := change(next)
		if err != nil {
			return err
		}
		if changed {
			err = s.replace(ctx, next, o, what)
			if orders.ErrorCode(err) != orders.EPRECONDITION {
				return err
			}
		}
		// Stale (412), or nothing to do on what may be an old copy: read and decide
		// on the stored order.
	}
	for attempt := 1; ; attempt++ {
		cur, err := s.GetByCustomer(ctx, o.CustomerID, o.ID)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		changed, err := change(cur)
		if err != nil {
			return err
		}
		if !changed {
			*o = *cur
			return nil
		}
		err = s.replace(ctx, cur, o, what)
		if orders.ErrorCode(err) != orders.EPRECONDITION || attempt == maxUpdateAttempts {
			return err
		}
	}
}

// replace writes next with If-Match next.ETag and copies the result into dst.
func (s *Store) replace(ctx context.Context, next, dst *orders.Order, what string) error {
	next.UpdatedAt = s.now().UTC()
	b, err := encode(next)
	if err != nil {
		return err
	}
	etag := azcore.ETag(next.ETag)
	resp, err := s.c.ReplaceItem(ctx, azcosmos.NewPartitionKeyString(next.CustomerID), next.ID, b, &azcosmos.ItemOptions{IfMatchEtag: &etag})
	if err != nil {
		switch azerr.StatusCode(err) {
		case 412:
			return orders.WrapError(orders.EPRECONDITION, fmt.Sprintf("Order %s was changed by someone else.", next.ID), err)
		case 404:
			return orders.WrapError(orders.ENOTFOUND, fmt.Sprintf("Order %s not found.", next.ID), err)
		}
		return azerr.Wrap(err, what)
	}
	next.ETag = string(resp.ETag)
	*dst = *next
	return nil
}

// Ping checks that the container is reachable and the identity may read it: a point
// read of a document that does not exist answers 404 when all is well.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.c.ReadItem(ctx, azcosmos.NewPartitionKeyString("readiness-probe"), "readiness-probe", nil)
	if err == nil || azerr.StatusCode(err) == 404 {
		return nil
	}
	return azerr.Wrap(err, "ping Cosmos DB")
}
