package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/contoso/orderflow/platform/orders"
)

// runRawFrontend makes, per order, the SDK calls the frontend makes for POST
// /api/orders (platform/orders.Placer over platform/cosmos and platform/servicebus):
// create the Pending document, send OrderPlaced to the queue, then mark it published
// the way the app's store does it, with the same reads and conditional replaces. It also
// drains the frontend's subscription of the events topic as the frontend's feed does.
// It has no HTTP API, no JSON request decoding, no logging, metrics or tracing: that
// difference is what the ladder measures.
//
// The driver starts a step with GET /step?n=..&rate=..&step=..; the answer is the
// step's start time, and order i of the step is due at start + i/rate, with the ID
// "raw-<step>-<i>" so the driver can tell when each was due. For the "bare" side the
// driver posts the orders instead, to POST /api/orders (bareOrders).
func runRawFrontend(ctx context.Context, c *rawClients, addr string) error {
	queue, topic, sub := c.env("ORDERS_QUEUE"), c.env("EVENTS_TOPIC"), c.env("EVENTS_SUBSCRIPTION")
	sender, err := c.bus.NewSender(queue, nil)
	if err != nil {
		return fmt.Errorf("sender for %s: %w", queue, err)
	}
	receiver, err := c.bus.NewReceiverForSubscription(topic, sub, nil)
	if err != nil {
		return fmt.Errorf("receiver for %s/%s: %w", topic, sub, err)
	}
	go drain(ctx, receiver)

	catalog := orders.DefaultCatalog()
	var failed atomic.Int64
	var lastFailure atomic.Value // string
	lastFailure.Store("")
	placeOne := func(id string, customer int) {
		in := orders.PlaceOrderInput{CustomerID: fmt.Sprintf("load-%03d", customer), Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: 2}, {ProductID: "filter-papers-100", Quantity: 1}}}
		o, err := orders.NewOrder(in, catalog, time.Now())
		if err == nil {
			o.ID = id
			err = rawPlace(ctx, c.cosmos, sender, o)
		}
		if err != nil && ctx.Err() == nil {
			lastFailure.Store(err.Error())
			failed.Add(1)
			slog.Warn("raw place failed", "order_id", id, "err", err)
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /step", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		n, err1 := strconv.Atoi(q.Get("n"))
		rate, err2 := strconv.ParseFloat(q.Get("rate"), 64)
		step := q.Get("step")
		if err1 != nil || err2 != nil || rate <= 0 || n < 0 || step == "" {
			http.Error(w, "want n, rate and step", http.StatusBadRequest)
			return
		}
		start := time.Now().Add(50 * time.Millisecond)
		go schedule(ctx, start, rate, n, func(i int) { placeOne(fmt.Sprintf("raw-%s-%d", step, i), i%customers) })
		fmt.Fprint(w, start.UnixNano())
	})
	mux.HandleFunc("POST /api/orders", bareOrders(ctx, c.cosmos, sender, catalog))
	mux.HandleFunc("GET /failed", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d\n%s", failed.Load(), strings.ReplaceAll(lastFailure.Load().(string), "\n", " "))
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("PIPELINE_CONTROL_ADDR %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// schedule calls f(i) for i in [0, n) at start + i/rate, each in its own goroutine: an
// open loop, so a slow call delays no later one and queueing shows as latency.
func schedule(ctx context.Context, start time.Time, rate float64, n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				wg.Wait()
				return
			case <-time.After(d):
			}
		}
		wg.Add(1)
		go func() { defer wg.Done(); f(i) }()
	}
	wg.Wait()
}

// rawPlace is Placer.Place's I/O: CreateItem, SendMessage, then MarkPublished as
// platform/cosmos does it: a replace with If-Match the etag the create returned (a
// point read and another replace only if that is refused).
func rawPlace(ctx context.Context, container *azcosmos.ContainerClient, sender *azservicebus.Sender, o *orders.Order) error {
	pk := azcosmos.NewPartitionKeyString(o.CustomerID)
	b, err := json.Marshal(orderDoc{Order: *o, CreatedAtMs: o.CreatedAt.UnixMilli()})
	if err != nil {
		return err
	}
	d := &rawDoc{Order: *o}
	err = withRetry(ctx, func() error {
		resp, err := container.CreateItem(ctx, pk, b, nil)
		if err == nil {
			d.ETag = string(resp.ETag)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	ev, err := orders.NewOrderPlacedEvent(o, "/orderflow/frontend", time.Now())
	if err != nil {
		return err
	}
	if err := withRetry(ctx, func() error { return sender.SendMessage(ctx, newRawMessage(ev), nil) }); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return rawUpdateKnown(ctx, container, d, func(d *orders.Order) {
		t := time.Now().UTC()
		d.Published, d.PublishedAt = true, &t
	})
}

// rawUpdateKnown is platform/cosmos's update of a document whose etag the caller
// holds: the conditional replace first, the read-and-replace only on 412.
func rawUpdateKnown(ctx context.Context, container *azcosmos.ContainerClient, d *rawDoc, change func(*orders.Order)) error {
	err := rawReplace(ctx, container, d, change)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == 412 {
		return rawUpdate(ctx, container, d.CustomerID, d.ID, change)
	}
	return err
}

// rawUpdate reads the document and replaces it changed, with If-Match, as
// platform/cosmos's update does.
func rawUpdate(ctx context.Context, container *azcosmos.ContainerClient, customerID, id string, change func(*orders.Order)) error {
	pk := azcosmos.NewPartitionKeyString(customerID)
	var d *rawDoc
	err := withRetry(ctx, func() error {
		resp, err := container.ReadItem(ctx, pk, id, nil)
		if err != nil {
			return err
		}
		d, err = decodeDoc(resp.Value)
		return err
	})
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return rawReplace(ctx, container, d, change)
}

// rawReplace writes d changed, with If-Match d's etag.
func rawReplace(ctx context.Context, container *azcosmos.ContainerClient, d *rawDoc, change func(*orders.Order)) error {
	change(&d.Order)
	d.UpdatedAt = time.Now().UTC()
	b, err := json.Marshal(orderDoc{Order: d.Order, CreatedAtMs: d.CreatedAt.UnixMilli()})
	if err != nil {
		return err
	}
	etag := azcore.ETag(d.ETag)
	err = withRetry(ctx, func() error {
		resp, err := container.ReplaceItem(ctx, azcosmos.NewPartitionKeyString(d.CustomerID), d.ID, b, &azcosmos.ItemOptions{IfMatchEtag: &etag})
		if err == nil {
			d.ETag = string(resp.ETag)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("replace: %w", err)
	}
	return nil
}

// newRawMessage is the message platform/servicebus.NewMessage sends, without the trace
// context.
func newRawMessage(ev orders.Event) *azservicebus.Message {
	body, _ := ev.Encode()
	id, ct, subject := ev.ID, orders.ContentTypeCloudEvents, ev.Type
	return &azservicebus.Message{
		MessageID: &id, ContentType: &ct, Subject: &subject, Body: body,
		ApplicationProperties: map[string]any{"cloudEvents:specversion": ev.SpecVersion, "cloudEvents:type": ev.Type},
	}
}

// drain receives and completes messages until ctx ends, as the frontend's feed does.
func drain(ctx context.Context, r *azservicebus.Receiver) {
	for ctx.Err() == nil {
		msgs, err := r.ReceiveMessages(ctx, 32, nil)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for _, m := range msgs {
			_ = r.CompleteMessage(ctx, m, nil)
		}
	}
}
