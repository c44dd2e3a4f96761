package blob

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"

	"github.com/contoso/orderflow/platform/internal/azerr"
	"github.com/contoso/orderflow/platform/orders"
)

// Upload tuning: blocks of 1 MiB, two in flight, so an upload holds at most a few
// MiB of memory whatever the attachment's size.
const (
	uploadBlockSize   = 1 << 20
	uploadConcurrency = 2
)

// Attachments is the Blob Storage AttachmentStore; blobs are <orderID>/<name> in its
// container.
type Attachments struct {
	c         *azblob.Client
	container string
}

var _ orders.AttachmentStore = (*Attachments)(nil)

// NewAttachments returns the store over container.
func NewAttachments(c *azblob.Client, container string) *Attachments {
	return &Attachments{c: c, container: container}
}

// errTooLarge is returned by limitedReader once the limit is passed.
var errTooLarge = errors.New("attachment exceeds the size limit")

// limitedReader counts bytes and fails as soon as more than max were read, so an
// oversized upload stops at the first block past the limit and is never committed.
type limitedReader struct {
	r        io.Reader
	max, n   int64
	exceeded bool
}

// Read implements io.Reader, failing with errTooLarge past the limit.
func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n > l.max {
		l.exceeded = true
		return 0, errTooLarge
	}
	// Read at most one byte past the limit: enough to know it was passed.
	if rem := l.max - l.n + 1; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		l.exceeded = true
		return n, errTooLarge
	}
	return n, err
}

// Put implements orders.AttachmentStore. Blocks are staged as they arrive and
// committed only when the whole stream was read within the limit.
func (s *Attachments) Put(ctx context.Context, orderID, name, contentType string, r io.Reader, maxBytes int64) (orders.Attachment, error) {
	if err := orders.ValidateOrderID(orderID); err != nil {
		return orders.Attachment{}, err
	}
	if err := orders.ValidateAttachmentName(name); err != nil {
		return orders.Attachment{}, err
	}
	lr := &limitedReader{r: r, max: maxBytes}
	_, err := s.c.UploadStream(ctx, s.container, orders.AttachmentBlobName(orderID, name), lr, &azblob.UploadStreamOptions{
		BlockSize:   uploadBlockSize,
		Concurrency: uploadConcurrency,
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: &contentType},
	})
	if lr.exceeded {
		return orders.Attachment{}, orders.Errorf(orders.ETOOLARGE, "The attachment is larger than %d bytes.", maxBytes)
	}
	if err != nil {
		return orders.Attachment{}, azerr.Wrap(err, fmt.Sprintf("upload attachment %s of order %s", name, orderID))
	}
	return orders.Attachment{Name: name, ContentType: contentType, Size: lr.n}, nil
}

// Get implements orders.AttachmentStore.
func (s *Attachments) Get(ctx context.Context, orderID, name string) (io.ReadCloser, orders.Attachment, error) {
	if err := orders.ValidateAttachmentName(name); err != nil {
		return nil, orders.Attachment{}, err
	}
	resp, err := s.c.DownloadStream(ctx, s.container, orders.AttachmentBlobName(orderID, name), nil)
	if err != nil {
		if azerr.StatusCode(err) == 404 {
			return nil, orders.Attachment{}, orders.WrapError(orders.ENOTFOUND, fmt.Sprintf("Attachment %s of order %s not found.", name, orderID), err)
		}
		return nil, orders.Attachment{}, azerr.Wrap(err, fmt.Sprintf("download attachment %s of order %s", name, orderID))
	}
	a := orders.Attachment{Name: name}
	if resp.ContentType != nil {
		a.ContentType = *resp.ContentType
	}
	if resp.ContentLength != nil {
		a.Size = *resp.ContentLength
	}
	return resp.Body, a, nil
}
