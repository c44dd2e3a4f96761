package blob

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"

	"github.com/contoso/orderflow/platform/internal/azerr"
	"github.com/contoso/orderflow/platform/orders"
)

// Receipts is the Blob Storage ReceiptStore; blobs are <orderID>.json.
type Receipts struct {
	c         *azblob.Client
	container string
}

var _ orders.ReceiptStore = (*Receipts)(nil)

// NewReceipts returns the store over container.
func NewReceipts(c *azblob.Client, container string) *Receipts {
	return &Receipts{c: c, container: container}
}

// PutIfAbsent implements orders.ReceiptStore with one conditional PUT
// (If-None-Match: *). A 409 (or 412) means the order already has a receipt: that is
// success for a redelivered message, and the stored receipt is returned for the caller
// to use.
func (s *Receipts) PutIfAbsent(ctx context.Context, r *orders.Receipt) (*orders.Receipt, bool, error) {
	body, err := r.Encode()
	if err != nil {
		return nil, false, err
	}
	name := orders.ReceiptBlobName(r.OrderID)
	ct := "application/json"
	ifNoneMatch := azcore.ETagAny
	_, err = s.c.UploadBuffer(ctx, s.container, name, body, &azblob.UploadBufferOptions{
		HTTPHeaders:      &blob.HTTPHeaders{BlobContentType: &ct},
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: &ifNoneMatch}},
		Metadata:         map[string]*string{"keyversion": &r.KeyVersion},
	})
	if err == nil {
		return r, true, nil
	}
	if sc := azerr.StatusCode(err); sc != 409 && sc != 412 {
		return nil, false, azerr.Wrap(err, fmt.Sprintf("store receipt of order %s", r.OrderID))
	}
	existing, err := s.read(ctx, r.OrderID)
	if err != nil {
		return nil, false, fmt.Errorf("read existing receipt of order %s: %w", r.OrderID, err)
	}
	if existing.OrderID != r.OrderID || existing.CustomerID != r.CustomerID {
		return nil, false, orders.Errorf(orders.ECONFLICT, "The stored receipt %s belongs to another order.", name)
	}
	return existing, false, nil
}

func (s *Receipts) read(ctx context.Context, orderID string) (*orders.Receipt, error) {
	rc, err := s.Get(ctx, orderID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return nil, azerr.Wrap(err, fmt.Sprintf("read receipt of order %s", orderID))
	}
	return orders.DecodeReceipt(bytes.NewReader(b))
}

// Get implements orders.ReceiptStore.
func (s *Receipts) Get(ctx context.Context, orderID string) (io.ReadCloser, error) {
	resp, err := s.c.DownloadStream(ctx, s.container, orders.ReceiptBlobName(orderID), nil)
	if err != nil {
		if azerr.StatusCode(err) == 404 {
			return nil, orders.WrapError(orders.ENOTFOUND, fmt.Sprintf("No receipt for order %s.", orderID), err)
		}
		return nil, azerr.Wrap(err, fmt.Sprintf("download receipt of order %s", orderID))
	}
	return resp.Body, nil
}
