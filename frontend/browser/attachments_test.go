package browser

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/contoso/orderflow/platform/orders"
)

// attachments is an in-memory AttachmentStore enforcing the size limit as the
// Blob adapter does.
type attachments struct {
	mu    sync.Mutex
	blobs map[string][]byte
	meta  map[string]orders.Attachment
}

func newAttachments() *attachments {
	return &attachments{blobs: map[string][]byte{}, meta: map[string]orders.Attachment{}}
}

func (s *attachments) Put(_ context.Context, orderID, name, contentType string, r io.Reader, maxBytes int64) (orders.Attachment, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return orders.Attachment{}, err
	}
	if int64(len(b)) > maxBytes {
		return orders.Attachment{}, orders.Errorf(orders.ETOOLARGE, "The attachment is larger than %d bytes.", maxBytes)
	}
	a := orders.Attachment{Name: name, ContentType: contentType, Size: int64(len(b))}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := orders.AttachmentBlobName(orderID, name)
	s.blobs[k], s.meta[k] = b, a
	return a, nil
}

func (s *attachments) Get(_ context.Context, orderID, name string) (io.ReadCloser, orders.Attachment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := orders.AttachmentBlobName(orderID, name)
	b, ok := s.blobs[k]
	if !ok {
		return nil, orders.Attachment{}, orders.Errorf(orders.ENOTFOUND, "No attachment %s.", name)
	}
	return io.NopCloser(bytes.NewReader(b)), s.meta[k], nil
}
