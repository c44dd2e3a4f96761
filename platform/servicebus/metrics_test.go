package servicebus

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/contoso/orderflow/platform/metrics"
	"github.com/contoso/orderflow/platform/orders"
)

// failingSender fails every send with err.
type failingSender struct{ err error }

func (f failingSender) SendMessage(context.Context, *azservicebus.Message, *azservicebus.SendMessageOptions) error {
	return f.err
}
func (failingSender) Close(context.Context) error { return nil }

func TestSendMetrics(t *testing.T) {
	m := metrics.New(metrics.NewRegistry(), metrics.Frontend)
	o := &orders.Order{ID: "o-1", CustomerID: "c", Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: 1}}}
	ok := &Publisher{s: &recordingSender{}, queue: "orders", source: SourceFrontend, now: time.Now, metrics: m}
	if err := ok.PublishOrderPlaced(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	lost := &Publisher{s: failingSender{fmt.Errorf("send: %w", &azservicebus.Error{Code: azservicebus.CodeConnectionLost})}, queue: "orders", source: SourceFrontend, now: time.Now, metrics: m}
	if err := lost.PublishOrderPlaced(context.Background(), o); err == nil {
		t.Fatal("send over a lost connection succeeded")
	}
	// The caller giving up says nothing about the broker: not recorded.
	gone := &Publisher{s: failingSender{context.Canceled}, queue: "orders", source: SourceFrontend, now: time.Now, metrics: m}
	_ = gone.PublishOrderPlaced(context.Background(), o)

	if got := testutil.ToFloat64(m.DependencyCalls.WithLabelValues("servicebus", "send", "ok", "ok")); got != 1 {
		t.Errorf("send ok = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.DependencyCalls.WithLabelValues("servicebus", "send", "error", string(azservicebus.CodeConnectionLost))); got != 1 {
		t.Errorf("send error connlost = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(m.DependencyCalls); n != 2 {
		t.Errorf("%d call series, want 2 (the cancelled send is not one)", n)
	}
}

func TestObserveReceiveIsCountedNotTimed(t *testing.T) {
	m := metrics.New(metrics.NewRegistry(), metrics.Backend)
	observe(m, opReceive, time.Now().Add(-time.Minute), nil)
	observe(m, opRenewLock, time.Now(), &azservicebus.Error{Code: azservicebus.CodeLockLost})
	observe(m, opComplete, time.Now(), context.DeadlineExceeded)
	if got := testutil.ToFloat64(m.DependencyCalls.WithLabelValues("servicebus", "receive", "ok", "ok")); got != 1 {
		t.Errorf("receive = %v", got)
	}
	if got := testutil.ToFloat64(m.DependencyCalls.WithLabelValues("servicebus", "renew_lock", "error", "locklost")); got != 1 {
		t.Errorf("renew_lock locklost = %v", got)
	}
	if got := testutil.ToFloat64(m.DependencyCalls.WithLabelValues("servicebus", "complete", "error", "timeout")); got != 1 {
		t.Errorf("complete timeout = %v", got)
	}
	// Only renew_lock and complete are timed: a receive's wait is the queue's idleness.
	if n := testutil.CollectAndCount(m.DependencyDuration); n != 2 {
		t.Errorf("%d duration series, want 2", n)
	}
	observe(nil, opSend, time.Now(), nil) // no metrics configured: nothing to do, no panic
}
