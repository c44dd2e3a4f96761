package orders_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/orders/orderstest"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestPlaceThenReconcileAfterSendFailure(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	store := orderstest.NewOrders()
	store.Now = clk.Now
	pub := orderstest.NewPublisher()
	// The broker is down for the first send only: the write succeeded, the send failed.
	down := true
	pub.Fail = func(op string) error {
		if down {
			return orders.WrapError(orders.EUNAVAILABLE, "Service Bus is unavailable.", errors.New("connection reset"))
		}
		return nil
	}
	placer := &orders.Placer{Orders: store, Publisher: pub, Catalog: orders.DefaultCatalog(), Now: clk.Now}
	in := orders.PlaceOrderInput{CustomerID: "alice", Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: 1}}}

	o, err := placer.Place(ctx, in)
	if err != nil {
		t.Fatalf("a failed send must not fail the placement: %v", err)
	}
	stored, _ := store.Get(ctx, o.ID)
	if stored.Published || stored.Status != orders.StatusPending {
		t.Fatalf("stored order = %+v, want Pending unpublished", stored)
	}
	down = false

	rec := &orders.Reconciler{Orders: store, Publisher: pub, MinAge: 30 * time.Second, Now: clk.Now}
	// Too young: in-flight placements are left alone.
	if n, err := rec.ReconcileOnce(ctx); n != 0 || err != nil {
		t.Fatalf("young order re-sent: n=%d err=%v", n, err)
	}
	clk.Add(31 * time.Second)
	if n, err := rec.ReconcileOnce(ctx); n != 1 || err != nil {
		t.Fatalf("overdue order: n=%d err=%v", n, err)
	}
	placed, _ := pub.Snapshot()
	if len(placed) != 1 || placed[0] != o.ID {
		t.Fatalf("placed = %v", placed)
	}
	stored, _ = store.Get(ctx, o.ID)
	if !stored.Published || stored.PublishedAt == nil {
		t.Fatalf("not marked published: %+v", stored)
	}
	// Converged: nothing left to do.
	if n, err := rec.ReconcileOnce(ctx); n != 0 || err != nil {
		t.Fatalf("second pass: n=%d err=%v", n, err)
	}
}

func TestReconcileResendIsDeduplicated(t *testing.T) {
	// Crash after the send but before MarkPublished: the reconciler re-sends, and the
	// MessageId (the order ID) makes the broker drop the copy.
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	store := orderstest.NewOrders()
	store.Now = clk.Now
	store.Fail = func(op string) error {
		if op == "MarkPublished" {
			return errors.New("process killed")
		}
		return nil
	}
	pub := orderstest.NewPublisher()
	placer := &orders.Placer{Orders: store, Publisher: pub, Catalog: orders.DefaultCatalog(), Now: clk.Now}
	o, err := placer.Place(ctx, orders.PlaceOrderInput{CustomerID: "bob", Items: []orders.Item{{ProductID: "grinder-hand", Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	store.Fail = nil
	clk.Add(time.Minute)
	rec := &orders.Reconciler{Orders: store, Publisher: pub, MinAge: 30 * time.Second, Now: clk.Now}
	if n, err := rec.ReconcileOnce(ctx); n != 1 || err != nil {
		t.Fatalf("n=%d err=%v", n, err)
	}
	placed, _ := pub.Snapshot()
	if pub.Sends != 2 || len(placed) != 1 || placed[0] != o.ID {
		t.Fatalf("sends=%d accepted=%v, want 2 sends and 1 accepted", pub.Sends, placed)
	}
}

func TestReconcileSkipsCompletedAndKeepsGoing(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	store := orderstest.NewOrders()
	old := now.Add(-time.Hour)
	store.Put(&orders.Order{ID: "done", CustomerID: "c", Status: orders.StatusCompleted, CreatedAt: old})
	store.Put(&orders.Order{ID: "a", CustomerID: "c", Status: orders.StatusPending, CreatedAt: old})
	store.Put(&orders.Order{ID: "b", CustomerID: "c", Status: orders.StatusPending, CreatedAt: old.Add(time.Second)})
	pub := orderstest.NewPublisher()
	pub.Fail = func(string) error { return nil }
	failA := true
	pub.Fail = func(op string) error {
		if failA {
			failA = false
			return errors.New("boom")
		}
		return nil
	}
	rec := &orders.Reconciler{Orders: store, Publisher: pub, MinAge: time.Minute, Now: func() time.Time { return now }}
	n, err := rec.ReconcileOnce(ctx)
	if n != 1 || err == nil {
		t.Fatalf("n=%d err=%v, want 1 sent and an error for the other", n, err)
	}
	placed, _ := pub.Snapshot()
	if len(placed) != 1 || placed[0] != "b" {
		t.Fatalf("placed = %v", placed)
	}
	n, err = rec.ReconcileOnce(ctx)
	if n != 1 || err != nil {
		t.Fatalf("retry pass n=%d err=%v", n, err)
	}
}

func TestReconcilerRunStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	rec := &orders.Reconciler{Orders: orderstest.NewOrders(), Publisher: orderstest.NewPublisher()}
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx, time.Millisecond) }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	if err := rec.Run(context.Background(), 0); err == nil {
		t.Fatal("zero interval accepted")
	}
}

func TestPlaceFailsWhenTheWriteFails(t *testing.T) {
	store := orderstest.NewOrders()
	store.Fail = func(op string) error {
		if op == "Create" {
			return orders.Errorf(orders.EUNAVAILABLE, "Cosmos DB is unavailable.")
		}
		return nil
	}
	pub := orderstest.NewPublisher()
	placer := &orders.Placer{Orders: store, Publisher: pub, Catalog: orders.DefaultCatalog()}
	_, err := placer.Place(context.Background(), orders.PlaceOrderInput{CustomerID: "c", Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: 1}}})
	if orders.ErrorCode(err) != orders.EUNAVAILABLE {
		t.Fatalf("err = %v, want unavailable", err)
	}
	if pub.Sends != 0 || store.Len() != 0 {
		t.Errorf("sent %d messages for an order that was not stored", pub.Sends)
	}
	// Invalid input never reaches the store.
	_, err = placer.Place(context.Background(), orders.PlaceOrderInput{})
	if orders.ErrorCode(err) != orders.EINVALID {
		t.Errorf("invalid input: %v", err)
	}
}
