package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"

	"github.com/contoso/orderflow/platform/orders"
)

// rawConcurrency is the backend's WORKER_CONCURRENCY default: the raw loop processes
// as many messages at once as the app's worker.
const rawConcurrency = 16

// runRawBackend makes, per OrderPlaced, the SDK calls backend/worker's Processor makes
// over platform/cosmos and platform/blob: read the order, upload the signed receipt
// with If-None-Match *, replace the order Completed with If-Match, send
// OrderCompleted to the topic, record that (a replace with the etag the last one
// returned), complete the message.
// The receipt is signed as the app signs it, with a fixed key: the backend reads its
// key from Key Vault once per KEY_REFRESH_INTERVAL, not per order.
func runRawBackend(ctx context.Context, c *rawClients) error {
	queue, topic, receipts := c.env("ORDERS_QUEUE"), c.env("EVENTS_TOPIC"), c.env("RECEIPTS_CONTAINER")
	receiver, err := c.bus.NewReceiverForQueue(queue, nil)
	if err != nil {
		return fmt.Errorf("receiver for %s: %w", queue, err)
	}
	sender, err := c.bus.NewSender(topic, nil)
	if err != nil {
		return fmt.Errorf("sender for %s: %w", topic, err)
	}
	p := &rawProcessor{container: c.cosmos, blob: c.blob, receipts: receipts, events: sender, catalog: orders.DefaultCatalog(), key: make([]byte, 32)}
	slots := make(chan struct{}, rawConcurrency)
	for ctx.Err() == nil {
		// Ask for as many messages as there are free slots, as the worker's flow does.
		slots <- struct{}{}
		n := 1
		for len(slots) < cap(slots) && n < cap(slots) {
			slots <- struct{}{}
			n++
		}
		msgs, err := receiver.ReceiveMessages(ctx, n, nil)
		for range n - len(msgs) {
			<-slots
		}
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for _, m := range msgs {
			go func() {
				defer func() { <-slots }()
				if err := p.process(ctx, m.Body); err != nil {
					if ctx.Err() == nil {
						slog.Warn("raw process failed; abandoning", "err", err)
						_ = receiver.AbandonMessage(ctx, m, nil)
					}
					return
				}
				_ = receiver.CompleteMessage(ctx, m, nil)
			}()
		}
	}
	return nil
}

type rawProcessor struct {
	container *azcosmos.ContainerClient
	blob      *azblob.Client
	receipts  string
	events    *azservicebus.Sender
	catalog   *orders.Catalog
	key       []byte
}

func (p *rawProcessor) process(ctx context.Context, body []byte) error {
	ev, err := orders.DecodeEvent(body)
	if err != nil {
		return err
	}
	data, err := ev.OrderPlaced()
	if err != nil {
		return err
	}
	pk := azcosmos.NewPartitionKeyString(data.CustomerID)
	var d *rawDoc
	err = withRetry(ctx, func() error {
		resp, err := p.container.ReadItem(ctx, pk, data.OrderID, nil)
		if err != nil {
			return err
		}
		d, err = decodeDoc(resp.Value)
		return err
	})
	if err != nil {
		return fmt.Errorf("read order: %w", err)
	}
	r, err := orders.NewReceipt(&d.Order, p.catalog, time.Now())
	if err != nil {
		return err
	}
	if err := r.Sign(p.key, "raw"); err != nil {
		return err
	}
	rb, err := r.Encode()
	if err != nil {
		return err
	}
	ct, any := "application/json", azcore.ETagAny
	err = withRetry(ctx, func() error {
		_, err := p.blob.UploadBuffer(ctx, p.receipts, orders.ReceiptBlobName(d.ID), rb, &azblob.UploadBufferOptions{
			HTTPHeaders:      &blob.HTTPHeaders{BlobContentType: &ct},
			AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: &any}},
			Metadata:         map[string]*string{"keyversion": &r.KeyVersion},
		})
		var re *azcore.ResponseError
		if errors.As(err, &re) && (re.StatusCode == 409 || re.StatusCode == 412) {
			return nil // a redelivery: the receipt is there
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("upload receipt: %w", err)
	}
	ref := r.Ref()
	if err := rawReplace(ctx, p.container, d, func(o *orders.Order) {
		o.Status, o.ReceiptBlob, o.ReceiptKeyVersion = orders.StatusCompleted, ref.Blob, ref.KeyVersion
	}); err != nil {
		return fmt.Errorf("mark completed: %w", err)
	}
	done, err := orders.NewOrderCompletedEvent(&d.Order, r, "/orderflow/backend")
	if err != nil {
		return err
	}
	if err := withRetry(ctx, func() error { return p.events.SendMessage(ctx, newRawMessage(done), nil) }); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return rawUpdateKnown(ctx, p.container, d, func(o *orders.Order) {
		t := time.Now().UTC()
		o.CompletedPublished, o.CompletedPublishedAt = true, &t
	})
}
