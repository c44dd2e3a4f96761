package integration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/cosmos"
	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/servicebus"
)

// failingPublisher fails every send while down is true: the broker was unreachable
// right after the order was written.
type failingPublisher struct {
	orders.Publisher
	down bool
}

func (f *failingPublisher) PublishOrderPlaced(ctx context.Context, o *orders.Order) error {
	if f.down {
		return orders.WrapError(orders.EUNAVAILABLE, "Service Bus is unavailable.", errors.New("injected send failure"))
	}
	return f.Publisher.PublishOrderPlaced(ctx, o)
}

// TestReconcilerResendsAfterSendFailure places an order whose send fails after the
// Cosmos DB write, then runs the reconciler (as the frontend runs it): the order is
// sent exactly once to the queue and marked published.
func TestReconcilerResendsAfterSendFailure(t *testing.T) {
	fe, fcfg := clientsFor(t, "frontend")
	be, bcfg := clientsFor(t, "backend")
	ctx := testCtx(t)
	store := cosmos.New(fe.Orders)
	real, err := servicebus.NewPublisher(fe.ServiceBus, fcfg.ServiceBus.OrdersQueue, servicebus.SourceFrontend)
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close(ctx)
	pub := &failingPublisher{Publisher: real, down: true}
	placer := &orders.Placer{Orders: store, Publisher: pub, Catalog: orders.DefaultCatalog()}
	o, err := placer.Place(ctx, orders.PlaceOrderInput{CustomerID: "cust-outbox", Items: []orders.Item{{ProductID: "grinder-hand", Quantity: 1}}})
	if err != nil {
		t.Fatalf("Place must succeed when only the send fails: %v", err)
	}
	stored, err := store.GetByCustomer(ctx, o.CustomerID, o.ID)
	if err != nil || stored.Published {
		t.Fatalf("stored = %+v, %v; want unpublished", stored, err)
	}
	pub.down = false

	// The reconciler with MinAge 0 picks it up at once (in production: RECONCILE_MIN_AGE).
	rec := &orders.Reconciler{Orders: store, Publisher: pub, MinAge: 0, Now: func() time.Time { return time.Now().Add(time.Second) }}
	if _, err := rec.ReconcileOnce(ctx); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	stored, _ = store.GetByCustomer(ctx, o.CustomerID, o.ID)
	if !stored.Published || stored.PublishedAt == nil {
		t.Fatalf("not marked published: %+v", stored)
	}
	// A second pass finds nothing of ours and sends nothing.
	list, err := store.ListUnpublished(ctx, time.Now().Add(time.Second), 1000)
	if err != nil || containsCustomer(list, "cust-outbox") {
		t.Fatalf("still unpublished after reconcile: %v", err)
	}

	recv, err := servicebus.NewQueueReceiver(be.ServiceBus, bcfg.ServiceBus.OrdersQueue)
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close(ctx)
	m := receiveID(t, recv, o.ID)
	if err := recv.Complete(ctx, m); err != nil {
		t.Fatal(err)
	}
	// Exactly once: the re-send of an order the frontend had in fact sent would be
	// dropped by duplicate detection; here there was only one send.
	noMessage(t, recv, o.ID, 2*time.Second)
}
