package integration

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/blob"
	"github.com/contoso/orderflow/platform/orders"
)

// patternReader yields n deterministic bytes without holding them.
type patternReader struct{ n, off int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	k := int64(len(b))
	if rem := p.n - p.off; k > rem {
		k = rem
	}
	for i := int64(0); i < k; i++ {
		b[i] = byte((p.off + i) * 7 % 251)
	}
	p.off += k
	return int(k), nil
}

func TestBlobAttachments(t *testing.T) {
	fe, cfg := clientsFor(t, "frontend")
	be, _ := clientsFor(t, "backend")
	ctx := testCtx(t)
	att := blob.NewAttachments(fe.Blob, cfg.Storage.AttachmentsContainer)
	if err := att.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	orderID := orders.NewID()
	const size = 3<<20 + 12345 // several blocks
	a, err := att.Put(ctx, orderID, "scan.pdf", "application/pdf", &patternReader{n: size}, 10<<20)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if a.Size != size || a.ContentType != "application/pdf" {
		t.Errorf("attachment = %+v", a)
	}
	// The backend may read attachments.
	rc, got, err := blob.NewAttachments(be.Blob, cfg.Storage.AttachmentsContainer).Get(ctx, orderID, "scan.pdf")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	h1, h2 := sha256.New(), sha256.New()
	n, _ := io.Copy(h1, rc)
	rc.Close()
	_, _ = io.Copy(h2, &patternReader{n: size})
	if n != size || !bytes.Equal(h1.Sum(nil), h2.Sum(nil)) || got.ContentType != "application/pdf" || got.Size != size {
		t.Errorf("downloaded %d bytes (%+v), content differs: %v", n, got, !bytes.Equal(h1.Sum(nil), h2.Sum(nil)))
	}

	// Over the limit: refused, and nothing is stored under that name.
	_, err = att.Put(ctx, orderID, "huge.bin", "application/octet-stream", &patternReader{n: 2<<20 + 1}, 2<<20)
	if orders.ErrorCode(err) != orders.ETOOLARGE {
		t.Fatalf("oversized Put: %v, want too large", err)
	}
	if _, _, err := att.Get(ctx, orderID, "huge.bin"); orders.ErrorCode(err) != orders.ENOTFOUND {
		t.Errorf("oversized attachment stored: %v", err)
	}
	if _, err := att.Put(ctx, orderID, "../escape", "text/plain", bytes.NewReader(nil), 10); orders.ErrorCode(err) != orders.EINVALID {
		t.Errorf("unsafe name accepted: %v", err)
	}
}

func TestBlobReceiptsConditionalCreate(t *testing.T) {
	be, cfg := clientsFor(t, "backend")
	ctx := testCtx(t)
	store := blob.NewReceipts(be.Blob, cfg.Storage.ReceiptsContainer)
	o := newOrder(t, "cust-r", time.Now())
	key := []byte("integration-key-0123456789abcdef")

	first, _ := orders.NewReceipt(o, orders.DefaultCatalog(), time.Now())
	_ = first.Sign(key, "v1")
	stored, created, err := store.PutIfAbsent(ctx, first)
	if err != nil || !created || stored != first {
		t.Fatalf("first PutIfAbsent: created=%v err=%v", created, err)
	}
	// A redelivery signs a different receipt (later time, rotated key): the first wins.
	second, _ := orders.NewReceipt(o, orders.DefaultCatalog(), time.Now().Add(time.Minute))
	_ = second.Sign([]byte("another-key-0123456789abcdef"), "v2")
	stored, created, err = store.PutIfAbsent(ctx, second)
	if err != nil || created {
		t.Fatalf("second PutIfAbsent: created=%v err=%v", created, err)
	}
	if stored.KeyVersion != "v1" || !stored.IssuedAt.Equal(first.IssuedAt) || stored.Verify(key) != nil {
		t.Errorf("stored receipt = %+v, want the first", stored)
	}
	// The frontend may read receipts, not write them.
	fe, _ := clientsFor(t, "frontend")
	rc, err := blob.NewReceipts(fe.Blob, cfg.Storage.ReceiptsContainer).Get(ctx, o.ID)
	if err != nil {
		t.Fatalf("frontend Get: %v", err)
	}
	r, err := orders.DecodeReceipt(rc)
	rc.Close()
	if err != nil || r.Verify(key) != nil {
		t.Errorf("frontend read: %v", err)
	}
	if _, err := store.Get(ctx, "no-such-order"); orders.ErrorCode(err) != orders.ENOTFOUND {
		t.Errorf("missing receipt: %v", err)
	}
}
