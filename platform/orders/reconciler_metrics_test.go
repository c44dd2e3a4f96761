package orders_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/contoso/orderflow/platform/metrics"
	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/orders/orderstest"
)

// TestReconcilerResentHookCountsResends wires Resent to the re-send counter as the
// frontend does: one order left unpublished by a failed send is one re-send.
func TestReconcilerResentHookCountsResends(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	store := orderstest.NewOrders()
	store.Now = clk.Now
	pub := orderstest.NewPublisher()
	down := true
	pub.Fail = func(string) error {
		if down {
			return orders.WrapError(orders.EUNAVAILABLE, "Service Bus is unavailable.", errors.New("connection reset"))
		}
		return nil
	}
	placer := &orders.Placer{Orders: store, Publisher: pub, Catalog: orders.DefaultCatalog(), Now: clk.Now}
	if _, err := placer.Place(ctx, orders.PlaceOrderInput{CustomerID: "alice", Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: 1}}}); err != nil {
		t.Fatal(err)
	}
	down = false
	m := metrics.New(metrics.NewRegistry(), metrics.Frontend)
	rec := &orders.Reconciler{Orders: store, Publisher: pub, MinAge: 30 * time.Second, Now: clk.Now,
		Resent: func(*orders.Order) { m.ReconcilerResends.Inc() }}
	clk.Add(31 * time.Second)
	for range 2 { // the second pass finds nothing left to re-send
		if _, err := rec.ReconcileOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := testutil.ToFloat64(m.ReconcilerResends); got != 1 {
		t.Fatalf("resends = %v, want 1", got)
	}
}
