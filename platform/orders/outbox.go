package orders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// The dual write. Placing an order writes it to the OrderStore and then sends
// OrderPlaced; the two cannot be one transaction. The order therefore carries an
// outbox flag (Published): it is stored unpublished, sent, then marked published. If the
// process dies or the send fails in between, the Reconciler finds the order later and
// sends it again. Re-sending is safe because the MessageId is the order ID (the queue's
// duplicate detection drops a re-send inside its window) and the worker is idempotent
// (a re-send after the window yields no second receipt or event).

// Placer places orders: validate, price, store, publish, mark published.
type Placer struct {
	Orders    OrderStore
	Publisher Publisher
	Catalog   *Catalog
	Logger    *slog.Logger
	Now       func() time.Time // defaults to time.Now
}

// Place validates in, stores a Pending order and sends OrderPlaced. A failed send does
// not fail the call: the order is stored, so the Reconciler will send it, and the
// customer gets the order they placed rather than an error and a retry that would
// create a second order.
func (p *Placer) Place(ctx context.Context, in PlaceOrderInput) (*Order, error) {
	o, err := NewOrder(in, p.Catalog, now(p.Now))
	if err != nil {
		return nil, err
	}
	if err := p.Orders.Create(ctx, o); err != nil {
		return nil, fmt.Errorf("place order: %w", err)
	}
	if err := p.Publisher.PublishOrderPlaced(ctx, o); err != nil {
		logger(p.Logger).WarnContext(ctx, "order stored but OrderPlaced not sent; the reconciler will re-send it",
			"order_id", o.ID, "err", err)
		return o, nil
	}
	if err := p.Orders.MarkPublished(ctx, o); err != nil {
		// The message is out; the reconciler will send a duplicate that the queue drops.
		logger(p.Logger).WarnContext(ctx, "OrderPlaced sent but order not marked published",
			"order_id", o.ID, "err", err)
	}
	return o, nil
}

// Reconciler re-sends OrderPlaced for Pending orders that are still unpublished MinAge
// after they were created: the recovery half of the outbox.
type Reconciler struct {
	Orders    OrderStore
	Publisher Publisher
	// MinAge is how long an order may stay unpublished before it is re-sent; it should
	// exceed the frontend's normal store-then-send time so that in-flight placements are
	// not re-sent needlessly (that would still be harmless).
	MinAge time.Duration
	// Batch bounds the orders handled per pass (default 100).
	Batch  int
	Logger *slog.Logger
	Now    func() time.Time // defaults to time.Now
	// Resent, if set, is called for each order re-sent: the frontend counts re-sends
	// in its metrics through it. A hook rather than a metrics dependency keeps the
	// domain package free of the Prometheus client.
	Resent func(o *Order)
}

// ReconcileOnce re-sends every overdue unpublished order found in one batch and marks
// each published. It returns how many were re-sent; one order failing does not stop the
// others, and the failures are joined into the returned error.
func (r *Reconciler) ReconcileOnce(ctx context.Context) (int, error) {
	batch := r.Batch
	if batch <= 0 {
		batch = 100
	}
	due := now(r.Now).Add(-r.MinAge)
	list, err := r.Orders.ListUnpublished(ctx, due, batch)
	if err != nil {
		return 0, fmt.Errorf("reconcile: list unpublished orders: %w", err)
	}
	var errs []error
	sent := 0
	for _, o := range list {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		if o.Published || o.Status != StatusPending {
			continue // a store that filters loosely must not make us re-send
		}
		if err := r.Publisher.PublishOrderPlaced(ctx, o); err != nil {
			errs = append(errs, fmt.Errorf("reconcile: re-send order %s: %w", o.ID, err))
			continue
		}
		sent++
		if r.Resent != nil {
			r.Resent(o)
		}
		logger(r.Logger).InfoContext(ctx, "re-sent unpublished order", "order_id", o.ID, "created_at", o.CreatedAt)
		if err := r.Orders.MarkPublished(ctx, o); err != nil {
			errs = append(errs, fmt.Errorf("reconcile: mark order %s published: %w", o.ID, err))
		}
	}
	return sent, errors.Join(errs...)
}

// Run calls ReconcileOnce every interval until ctx is done, logging failures; it
// returns nil when ctx is cancelled.
func (r *Reconciler) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("reconciler interval %v must be positive", interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, err := r.ReconcileOnce(ctx); err != nil && ctx.Err() == nil {
			logger(r.Logger).WarnContext(ctx, "reconcile pass failed", "err", err)
		}
	}
}

func now(f func() time.Time) time.Time {
	if f != nil {
		return f()
	}
	return time.Now()
}

func logger(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}
