// Package worker is the backend's order processing: Processor turns one OrderPlaced
// message into a signed receipt, a Completed order and an OrderCompleted event,
// idempotently; Worker runs the peek-lock receive loop around it with bounded
// concurrency, lock renewal, retries with backoff, dead-lettering and graceful stop.
package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/contoso/orderflow/platform/metrics"
	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/servicebus"
)

// Dead-letter reasons, short and stable so operators can filter on them.
const (
	// The two a malformed or unknown event gets are servicebus's, shared with the
	// frontend's feed, so the same fault has the same reason in both services.
	ReasonInvalidMessage   = servicebus.ReasonInvalidMessage   // not a CloudEvent, or malformed data
	ReasonUnsupportedEvent = servicebus.ReasonUnsupportedEvent // a type or version this worker does not handle
	ReasonOrderNotFound    = "OrderNotFound"                   // the order the message names does not exist
	ReasonProcessingFailed = "ProcessingFailed"                // a permanent failure while processing
)

// DeadLetterError marks a message that can never be processed: retrying cannot help,
// so the worker dead-letters it at once with Reason and Description.
type DeadLetterError struct {
	Reason      string
	Description string
	Err         error
}

// Error describes the dead-letter decision.
func (e *DeadLetterError) Error() string {
	return fmt.Sprintf("dead-letter (%s): %s", e.Reason, e.Description)
}

// Unwrap returns the underlying cause.
func (e *DeadLetterError) Unwrap() error { return e.Err }

func deadLetter(reason string, err error) error {
	return &DeadLetterError{Reason: reason, Description: orders.ErrorMessage(err), Err: err}
}

// Processor handles OrderPlaced. Every step tolerates having been done before, so a
// redelivery, or a crash between any two steps followed by a redelivery, converges on
// one receipt, one Completed order and one OrderCompleted event:
//
//  1. load the order (the message only names it);
//  2. store the signed receipt with a conditional create; if the order already has one,
//     use the stored one from then on;
//  3. mark the order Completed with an etag check; if it is already Completed, skip;
//  4. publish OrderCompleted with MessageId "<id>-completed", unless the order records
//     that it was published, then record that (MarkCompletedPublished). The record,
//     not the topic's duplicate-detection window, makes the event exactly-once: a
//     redelivery days later, or after a broker restart, finds it and skips. Only a
//     crash between publish and record re-publishes, once, a byte-identical event
//     (its time is the receipt's) with the same ID, which the frontend's feed drops;
//
// and only then does the Worker complete the message.
type Processor struct {
	Orders   orders.OrderStore
	Receipts orders.ReceiptStore
	Events   orders.EventPublisher
	Secrets  orders.SecretSource
	Catalog  *orders.Catalog
	Log      *slog.Logger
	Now      func() time.Time
	// Metrics receives the order outcomes (completed, failed, end-to-end latency);
	// nil records them nowhere.
	Metrics *metrics.Metrics
}

// maxMarkAttempts bounds the re-read-and-retry loop around a stale etag.
const maxMarkAttempts = 3

// Process handles one message body. A *DeadLetterError means the message must be
// dead-lettered; any other error is transient and the message should be retried.
func (p *Processor) Process(ctx context.Context, body []byte) error {
	ev, err := orders.DecodeEvent(body)
	if err != nil {
		if orders.ErrorCode(err) == orders.EUNSUPPORTED {
			return deadLetter(ReasonUnsupportedEvent, err)
		}
		return deadLetter(ReasonInvalidMessage, err)
	}
	data, err := ev.OrderPlaced()
	if err != nil {
		if orders.ErrorCode(err) == orders.EUNSUPPORTED {
			return deadLetter(ReasonUnsupportedEvent, err)
		}
		return deadLetter(ReasonInvalidMessage, err)
	}
	log := p.log().With("order_id", data.OrderID, "customer_id", data.CustomerID)

	o, err := p.Orders.GetByCustomer(ctx, data.CustomerID, data.OrderID)
	if err != nil {
		if orders.ErrorCode(err) == orders.ENOTFOUND {
			return deadLetter(ReasonOrderNotFound, err)
		}
		return fmt.Errorf("load order %s: %w", data.OrderID, err)
	}
	if o.Status == orders.StatusFailed {
		log.InfoContext(ctx, "order already failed; nothing to do", "reason", o.FailureReason)
		return nil
	}

	r, err := p.ensureReceipt(ctx, o)
	if err != nil {
		if orders.ErrorCode(err) == orders.EINVALID {
			// The order cannot be priced (a product left the catalog): that is the
			// order's fate, not the message's. Record it and consume the message.
			if ferr := p.markFailed(ctx, o, orders.ErrorMessage(err)); ferr != nil {
				return ferr
			}
			log.WarnContext(ctx, "order failed", "reason", orders.ErrorMessage(err), "err", err)
			return nil
		}
		return err
	}

	if err := p.ensureCompleted(ctx, o, r); err != nil {
		return err
	}
	if o.CompletedPublished {
		log.InfoContext(ctx, "OrderCompleted already published; not publishing again")
		return nil
	}
	if err := p.Events.PublishOrderCompleted(ctx, o, r); err != nil {
		return fmt.Errorf("publish OrderCompleted for order %s: %w", o.ID, err)
	}
	if err := p.Orders.MarkCompletedPublished(ctx, o); err != nil {
		// The event is out; failing the message would only publish it again. A
		// later redelivery finds no record and sends one duplicate the feed drops.
		log.WarnContext(ctx, "OrderCompleted published but not recorded on the order", "err", err)
	}
	log.InfoContext(ctx, "order completed", "total", r.Total, "key_version", r.KeyVersion)
	return nil
}

// ensureReceipt returns the order's receipt: the stored one if there is one, else a
// new one, signed and stored with a conditional create.
func (p *Processor) ensureReceipt(ctx context.Context, o *orders.Order) (*orders.Receipt, error) {
	if o.Status == orders.StatusCompleted {
		// Completed before: the receipt exists (it is written before the order is
		// marked). Read it rather than signing anew.
		if r, err := p.readReceipt(ctx, o.ID); err == nil {
			return r, nil
		} else if orders.ErrorCode(err) != orders.ENOTFOUND {
			return nil, err
		}
	}
	r, err := orders.NewReceipt(o, p.Catalog, p.now())
	if err != nil {
		return nil, err
	}
	key, version, err := p.Secrets.SigningKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("get receipt signing key: %w", err)
	}
	if err := r.Sign(key, version); err != nil {
		return nil, err
	}
	stored, created, err := p.Receipts.PutIfAbsent(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("store receipt of order %s: %w", o.ID, err)
	}
	if !created {
		p.log().InfoContext(ctx, "receipt already stored; reusing it", "order_id", o.ID, "key_version", stored.KeyVersion)
	}
	return stored, nil
}

func (p *Processor) readReceipt(ctx context.Context, orderID string) (*orders.Receipt, error) {
	rc, err := p.Receipts.Get(ctx, orderID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read receipt of order %s: %w", orderID, err)
	}
	return orders.DecodeReceipt(bytes.NewReader(b))
}

// ensureCompleted marks the order Completed unless it already is, re-reading it when
// its etag went stale (someone, e.g. the frontend's MarkPublished, wrote in between).
func (p *Processor) ensureCompleted(ctx context.Context, o *orders.Order, r *orders.Receipt) error {
	for attempt := 1; ; attempt++ {
		if o.Status == orders.StatusCompleted {
			return nil
		}
		err := p.Orders.MarkCompleted(ctx, o, r.Ref())
		if err == nil {
			// Counted here, where the order changes state, so a redelivery of an order
			// already Completed is not a second completion.
			m := p.metrics()
			m.OrdersCompleted.Inc()
			m.OrderLatency.Observe(p.now().Sub(o.CreatedAt).Seconds())
			return nil
		}
		if orders.ErrorCode(err) != orders.EPRECONDITION || attempt == maxMarkAttempts {
			return fmt.Errorf("mark order %s completed: %w", o.ID, err)
		}
		fresh, gerr := p.Orders.GetByCustomer(ctx, o.CustomerID, o.ID)
		if gerr != nil {
			return fmt.Errorf("re-read order %s: %w", o.ID, gerr)
		}
		*o = *fresh
	}
}

func (p *Processor) markFailed(ctx context.Context, o *orders.Order, reason string) error {
	for attempt := 1; ; attempt++ {
		err := p.Orders.MarkFailed(ctx, o, reason)
		if err == nil {
			p.metrics().OrdersFailed.Inc()
			return nil
		}
		if errors.Is(err, context.Canceled) {
			return err
		}
		if orders.ErrorCode(err) != orders.EPRECONDITION || attempt == maxMarkAttempts {
			return fmt.Errorf("mark order %s failed: %w", o.ID, err)
		}
		fresh, gerr := p.Orders.GetByCustomer(ctx, o.CustomerID, o.ID)
		if gerr != nil {
			return fmt.Errorf("re-read order %s: %w", o.ID, gerr)
		}
		if fresh.Status != orders.StatusPending {
			return nil
		}
		*o = *fresh
	}
}

func (p *Processor) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// discard stands in for missing Metrics. It is shared and read-only here (the
// Processor and Worker are used concurrently, so neither may fill its own field
// lazily); its observations go nowhere.
var discard = metrics.Discard()

func (p *Processor) metrics() *metrics.Metrics {
	if p.Metrics == nil {
		return discard
	}
	return p.Metrics
}

func (p *Processor) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.New(slog.DiscardHandler)
}
