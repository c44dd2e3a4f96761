// Package orderstest provides in-memory implementations of the orders service
// interfaces for tests: they keep the same contracts as the real adapters (etags,
// conditional creates, ENOTFOUND/ECONFLICT/EPRECONDITION codes) and let a test inject a
// failure before any call with the Fail hooks.
package orderstest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/contoso/orderflow/platform/orders"
)

// Hook is called with an operation name ("Create", "MarkCompleted", …) before the
// operation runs; a non-nil error is returned instead of running it.
type Hook func(op string) error

// Orders is an in-memory OrderStore.
type Orders struct {
	mu   sync.Mutex
	docs map[string]*orders.Order
	seq  int
	// Fail, if set, is consulted before every operation.
	Fail Hook
	// Now stamps UpdatedAt and PublishedAt (default time.Now).
	Now func() time.Time
}

var _ orders.OrderStore = (*Orders)(nil)

// NewOrders returns an empty store.
func NewOrders() *Orders { return &Orders{docs: map[string]*orders.Order{}} }

func (s *Orders) fail(op string) error {
	if s.Fail != nil {
		return s.Fail(op)
	}
	return nil
}

func (s *Orders) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Orders) bump(o *orders.Order) {
	s.seq++
	o.ETag = strconv.Quote(strconv.Itoa(s.seq))
}

// Create implements orders.OrderStore.
func (s *Orders) Create(_ context.Context, o *orders.Order) error {
	if err := s.fail("Create"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.docs[o.ID]; ok {
		return orders.Errorf(orders.ECONFLICT, "Order %s already exists.", o.ID)
	}
	s.bump(o)
	s.docs[o.ID] = o.Clone()
	return nil
}

// Get implements orders.OrderStore.
func (s *Orders) Get(_ context.Context, id string) (*orders.Order, error) {
	if err := s.fail("Get"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.docs[id]
	if !ok {
		return nil, orders.Errorf(orders.ENOTFOUND, "Order %s not found.", id)
	}
	return o.Clone(), nil
}

// GetByCustomer implements orders.OrderStore.
func (s *Orders) GetByCustomer(_ context.Context, customerID, id string) (*orders.Order, error) {
	if err := s.fail("GetByCustomer"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.docs[id]
	if !ok || o.CustomerID != customerID {
		return nil, orders.Errorf(orders.ENOTFOUND, "Order %s not found.", id)
	}
	return o.Clone(), nil
}

// ListByCustomer implements orders.OrderStore; the continuation is an offset.
func (s *Orders) ListByCustomer(_ context.Context, customerID string, limit int, continuation string) (orders.OrderPage, error) {
	if err := s.fail("ListByCustomer"); err != nil {
		return orders.OrderPage{}, err
	}
	if limit <= 0 || limit > orders.MaxListLimit {
		limit = orders.DefaultListLimit
	}
	off := 0
	if continuation != "" {
		n, err := strconv.Atoi(continuation)
		if err != nil || n < 0 {
			return orders.OrderPage{}, orders.Errorf(orders.EINVALID, "The continuation token is not valid.")
		}
		off = n
	}
	s.mu.Lock()
	var all []*orders.Order
	for _, o := range s.docs {
		if o.CustomerID == customerID {
			all = append(all, o.Clone())
		}
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool {
		if !all[i].CreatedAt.Equal(all[j].CreatedAt) {
			return all[i].CreatedAt.After(all[j].CreatedAt)
		}
		return all[i].ID < all[j].ID
	})
	var page orders.OrderPage
	if off < len(all) {
		end := min(off+limit, len(all))
		page.Orders = all[off:end]
		if end < len(all) {
			page.Continuation = strconv.Itoa(end)
		}
	}
	return page, nil
}

// update applies change to the stored order under the etag rule.
func (s *Orders) update(op string, o *orders.Order, checkETag bool, change func(stored *orders.Order) error) error {
	if err := s.fail(op); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.docs[o.ID]
	if !ok {
		return orders.Errorf(orders.ENOTFOUND, "Order %s not found.", o.ID)
	}
	if checkETag && cur.ETag != o.ETag {
		return orders.Errorf(orders.EPRECONDITION, "Order %s was changed by someone else.", o.ID)
	}
	next := cur.Clone()
	if err := change(next); err != nil {
		return err
	}
	next.UpdatedAt = s.now()
	s.bump(next)
	s.docs[o.ID] = next
	*o = *next.Clone()
	return nil
}

// MarkCompleted implements orders.OrderStore.
func (s *Orders) MarkCompleted(_ context.Context, o *orders.Order, ref orders.ReceiptRef) error {
	return s.update("MarkCompleted", o, true, func(d *orders.Order) error {
		d.Status = orders.StatusCompleted
		d.ReceiptBlob, d.ReceiptKeyVersion = ref.Blob, ref.KeyVersion
		if !d.Published {
			t := s.now()
			d.Published, d.PublishedAt = true, &t
		}
		return nil
	})
}

// MarkFailed implements orders.OrderStore.
func (s *Orders) MarkFailed(_ context.Context, o *orders.Order, reason string) error {
	return s.update("MarkFailed", o, true, func(d *orders.Order) error {
		d.Status, d.FailureReason = orders.StatusFailed, reason
		return nil
	})
}

// MarkPublished implements orders.OrderStore.
func (s *Orders) MarkPublished(_ context.Context, o *orders.Order) error {
	return s.update("MarkPublished", o, false, func(d *orders.Order) error {
		if !d.Published {
			t := s.now()
			d.Published, d.PublishedAt = true, &t
		}
		return nil
	})
}

// MarkCompletedPublished implements orders.OrderStore.
func (s *Orders) MarkCompletedPublished(_ context.Context, o *orders.Order) error {
	return s.update("MarkCompletedPublished", o, false, func(d *orders.Order) error {
		if !d.CompletedPublished {
			t := s.now()
			d.CompletedPublished, d.CompletedPublishedAt = true, &t
		}
		return nil
	})
}

// AddAttachment implements orders.OrderStore.
func (s *Orders) AddAttachment(_ context.Context, o *orders.Order, a orders.Attachment) error {
	return s.update("AddAttachment", o, false, func(d *orders.Order) error {
		for i, x := range d.Attachments {
			if x.Name == a.Name {
				d.Attachments[i] = a // re-uploading the same name replaces the blob too
				return nil
			}
		}
		if len(d.Attachments) >= orders.MaxAttachments {
			return orders.Errorf(orders.ECONFLICT, "Order %s already has %d attachments.", d.ID, orders.MaxAttachments)
		}
		d.Attachments = append(d.Attachments, a)
		return nil
	})
}

// ListUnpublished implements orders.OrderStore.
func (s *Orders) ListUnpublished(_ context.Context, olderThan time.Time, limit int) ([]*orders.Order, error) {
	if err := s.fail("ListUnpublished"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	var out []*orders.Order
	for _, o := range s.docs {
		if o.Status == orders.StatusPending && !o.Published && o.CreatedAt.Before(olderThan) {
			out = append(out, o.Clone())
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Put stores o as is (test setup), giving it a fresh ETag.
func (s *Orders) Put(o *orders.Order) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bump(o)
	s.docs[o.ID] = o.Clone()
}

// Len returns the number of stored orders.
func (s *Orders) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.docs)
}

// Receipts is an in-memory ReceiptStore.
type Receipts struct {
	mu   sync.Mutex
	docs map[string][]byte
	Fail Hook
	// Writes counts successful creates.
	Writes int
}

var _ orders.ReceiptStore = (*Receipts)(nil)

// NewReceipts returns an empty store.
func NewReceipts() *Receipts { return &Receipts{docs: map[string][]byte{}} }

// PutIfAbsent implements orders.ReceiptStore.
func (s *Receipts) PutIfAbsent(_ context.Context, r *orders.Receipt) (*orders.Receipt, bool, error) {
	if s.Fail != nil {
		if err := s.Fail("PutIfAbsent"); err != nil {
			return nil, false, err
		}
	}
	b, err := r.Encode()
	if err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.docs[r.OrderID]; ok {
		got, err := orders.DecodeReceipt(bytes.NewReader(old))
		if err != nil {
			return nil, false, fmt.Errorf("existing receipt %s: %w", r.OrderID, err)
		}
		return got, false, nil
	}
	s.docs[r.OrderID] = b
	s.Writes++
	return r, true, nil
}

// Get implements orders.ReceiptStore.
func (s *Receipts) Get(_ context.Context, orderID string) (io.ReadCloser, error) {
	if s.Fail != nil {
		if err := s.Fail("Get"); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.docs[orderID]
	if !ok {
		return nil, orders.Errorf(orders.ENOTFOUND, "No receipt for order %s.", orderID)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// Doc returns the stored document of an order's receipt (nil if none).
func (s *Receipts) Doc(orderID string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.docs[orderID]
}

// Set replaces an order's stored receipt document, as someone with write access to
// the receipts container could: for tests of tampered receipts.
func (s *Receipts) Set(orderID string, doc []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docs[orderID] = doc
}

// Attachments is an in-memory AttachmentStore that, like the Blob adapter, reads
// the stream chunk by chunk and gives up with ETOOLARGE (storing nothing) past
// maxBytes.
type Attachments struct {
	mu    sync.Mutex
	blobs map[string][]byte
	meta  map[string]orders.Attachment
	reads int
}

var _ orders.AttachmentStore = (*Attachments)(nil)

// NewAttachments returns an empty store.
func NewAttachments() *Attachments {
	return &Attachments{blobs: map[string][]byte{}, meta: map[string]orders.Attachment{}}
}

// Put implements orders.AttachmentStore.
func (s *Attachments) Put(_ context.Context, orderID, name, contentType string, r io.Reader, maxBytes int64) (orders.Attachment, error) {
	var buf bytes.Buffer
	chunk := make([]byte, 32<<10)
	for {
		n, err := r.Read(chunk)
		s.mu.Lock()
		s.reads++
		s.mu.Unlock()
		buf.Write(chunk[:n])
		if int64(buf.Len()) > maxBytes {
			return orders.Attachment{}, orders.Errorf(orders.ETOOLARGE, "The attachment is larger than %d bytes.", maxBytes)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return orders.Attachment{}, err
		}
	}
	a := orders.Attachment{Name: name, ContentType: contentType, Size: int64(buf.Len())}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := orders.AttachmentBlobName(orderID, name)
	s.blobs[key], s.meta[key] = buf.Bytes(), a
	return a, nil
}

// Get implements orders.AttachmentStore.
func (s *Attachments) Get(_ context.Context, orderID, name string) (io.ReadCloser, orders.Attachment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := orders.AttachmentBlobName(orderID, name)
	b, ok := s.blobs[key]
	if !ok {
		return nil, orders.Attachment{}, orders.Errorf(orders.ENOTFOUND, "No attachment %s.", name)
	}
	return io.NopCloser(bytes.NewReader(b)), s.meta[key], nil
}

// Blob returns the stored bytes of an attachment (nil if none).
func (s *Attachments) Blob(orderID, name string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blobs[orders.AttachmentBlobName(orderID, name)]
}

// Reads counts the Read calls Put made: more than one shows the caller streamed.
func (s *Attachments) Reads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// Len returns the number of stored receipts.
func (s *Receipts) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.docs)
}

// Publisher is an in-memory Publisher and EventPublisher that records what was sent
// and, like Service Bus duplicate detection, drops a message whose MessageId it saw.
type Publisher struct {
	mu   sync.Mutex
	seen map[string]bool
	// Placed and Completed are the accepted (non-duplicate) messages' IDs, in order.
	Placed    []string
	Completed []string
	// Sends counts every send attempt that reached the broker, duplicates included.
	Sends int
	Fail  Hook
}

var (
	_ orders.Publisher      = (*Publisher)(nil)
	_ orders.EventPublisher = (*Publisher)(nil)
)

// NewPublisher returns a publisher with an empty duplicate-detection history.
func NewPublisher() *Publisher { return &Publisher{seen: map[string]bool{}} }

// PublishOrderPlaced implements orders.Publisher.
func (p *Publisher) PublishOrderPlaced(_ context.Context, o *orders.Order) error {
	if p.Fail != nil {
		if err := p.Fail("PublishOrderPlaced"); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Sends++
	id := orders.PlacedEventID(o.ID)
	if !p.seen[id] {
		p.seen[id] = true
		p.Placed = append(p.Placed, o.ID)
	}
	return nil
}

// PublishOrderCompleted implements orders.EventPublisher.
func (p *Publisher) PublishOrderCompleted(_ context.Context, o *orders.Order, _ *orders.Receipt) error {
	if p.Fail != nil {
		if err := p.Fail("PublishOrderCompleted"); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Sends++
	id := orders.CompletedEventID(o.ID)
	if !p.seen[id] {
		p.seen[id] = true
		p.Completed = append(p.Completed, o.ID)
	}
	return nil
}

// Snapshot returns copies of Placed and Completed under the lock.
func (p *Publisher) Snapshot() (placed, completed []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.Placed...), append([]string(nil), p.Completed...)
}

// Secrets is an in-memory SecretSource with named versions; the last added is current.
type Secrets struct {
	mu       sync.Mutex
	versions map[string][]byte
	current  string
	Fail     Hook
}

var _ orders.SecretSource = (*Secrets)(nil)

// NewSecrets returns a source whose current version is version with key.
func NewSecrets(version string, key []byte) *Secrets {
	s := &Secrets{versions: map[string][]byte{}}
	s.Rotate(version, key)
	return s
}

// Rotate adds a version and makes it current.
func (s *Secrets) Rotate(version string, key []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.versions[version] = append([]byte(nil), key...)
	s.current = version
}

// SigningKey implements orders.SecretSource.
func (s *Secrets) SigningKey(context.Context) ([]byte, string, error) {
	if s.Fail != nil {
		if err := s.Fail("SigningKey"); err != nil {
			return nil, "", err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.versions[s.current]...), s.current, nil
}

// KeyVersion implements orders.SecretSource.
func (s *Secrets) KeyVersion(_ context.Context, version string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.versions[version]
	if !ok {
		return nil, orders.Errorf(orders.ENOTFOUND, "Key version %s not found.", version)
	}
	return append([]byte(nil), k...), nil
}
