package api

import (
	"time"

	"github.com/contoso/orderflow/platform/orders"
)

// Reconcile is the outbox reconciler's schedule as this frontend runs it
// (RECONCILE_MIN_AGE, RECONCILE_INTERVAL): the order view's delivery hint is
// computed from it. A zero Interval means the reconciler is disabled.
type Reconcile struct {
	MinAge   time.Duration
	Interval time.Duration
}

// deliveryView says whether OrderPlaced has reached Service Bus, and if not, by
// when the frontend's reconciler will have re-sent it. It is the explicit, public
// reading of the store-internal outbox flag (orders.Order.Published).
type deliveryView struct {
	// Sent is true once Service Bus accepted OrderPlaced (the outbox flag), or once
	// the backend completed or failed the order, which proves the message arrived.
	Sent   bool       `json:"sent"`
	SentAt *time.Time `json:"sentAt,omitempty"`
	// RetryBy, for an order not yet sent, is the latest time the reconciler picks it
	// up: it becomes due RECONCILE_MIN_AGE after createdAt, and a pass runs every
	// RECONCILE_INTERVAL, so createdAt + MIN_AGE + INTERVAL. Absent when the
	// reconciler is disabled.
	RetryBy *time.Time `json:"retryBy,omitempty"`
	// Overdue is true when RetryBy has passed and the order is still not sent: the
	// re-send failed (the frontend's log says why) and is tried again each pass.
	Overdue bool `json:"overdue,omitempty"`
}

func (r Reconcile) delivery(o *orders.Order, now time.Time) deliveryView {
	d := deliveryView{Sent: o.Published || o.Status != orders.StatusPending}
	if o.PublishedAt != nil {
		t := o.PublishedAt.UTC()
		d.SentAt = &t
	}
	if d.Sent || r.Interval <= 0 {
		return d
	}
	by := o.CreatedAt.Add(r.MinAge + r.Interval).UTC()
	d.RetryBy = &by
	d.Overdue = now.After(by)
	return d
}

// stepView is one step of an order's way through the system and the identity that
// does it. Attribution says how `by` is known: "design" when the order records
// that (and when) the step happened but not who did it, and the service is the
// only one the code and its roles let do it (only the frontend's identity may send
// to the orders queue, only the backend's may write receipts). Each service's
// client ID is in its identity view (GET /api/identity, GET /api/identity/backend).
type stepView struct {
	Step        string     `json:"step"` // stored, sent, receipt, completed or failed
	By          string     `json:"by"`   // frontend or backend
	Done        bool       `json:"done"`
	At          *time.Time `json:"at,omitempty"`
	Detail      string     `json:"detail"`
	Attribution string     `json:"attribution"`
}

// attributedByDesign is the attribution of every step today: the order document
// records times and the key version, not identities.
const attributedByDesign = "design"

func stepsOf(o *orders.Order, d deliveryView) []stepView {
	at := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		t = t.UTC()
		return &t
	}
	steps := []stepView{
		{Step: "stored", By: "frontend", Done: true, At: at(o.CreatedAt),
			Detail: "order stored in Cosmos DB as Pending", Attribution: attributedByDesign},
		{Step: "sent", By: "frontend", Done: d.Sent, At: d.SentAt,
			Detail: "OrderPlaced sent to the Service Bus queue", Attribution: attributedByDesign},
	}
	receipt := stepView{Step: "receipt", By: "backend", Done: o.ReceiptKeyVersion != "",
		Detail: "receipt signed with the Key Vault signing key and stored in Blob", Attribution: attributedByDesign}
	if o.ReceiptKeyVersion != "" {
		receipt.Detail = "receipt signed with Key Vault secret version " + o.ReceiptKeyVersion + " and stored in Blob"
	}
	last := stepView{Step: "completed", By: "backend", Detail: "order marked Completed and OrderCompleted sent to the events topic", Attribution: attributedByDesign}
	switch o.Status {
	case orders.StatusCompleted:
		last.Done, last.At = true, at(o.UpdatedAt)
	case orders.StatusFailed:
		last.Step, last.Done, last.At = "failed", true, at(o.UpdatedAt)
		last.Detail = "order marked Failed: " + o.FailureReason
	}
	if o.Status != orders.StatusFailed {
		steps = append(steps, receipt)
	}
	return append(steps, last)
}

// present is the order's API view with the parts computed by this server: the
// delivery hint (from the reconciler's schedule) and the steps.
func (s *Server) present(o *orders.Order) orderView {
	v := viewOf(o)
	d := s.reconcile.delivery(o, s.now())
	v.Delivery = &d
	v.Steps = stepsOf(o, d)
	return v
}
