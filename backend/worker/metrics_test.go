package worker

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/contoso/orderflow/platform/metrics"
	"github.com/contoso/orderflow/platform/metrics/metricstest"
	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/servicebus"
)

// TestWorkerMetricsFollowAnOrder runs the redelivery scenario of
// TestWorkerEndToEndWithRedelivery with metrics: the order completes once however
// often its message comes, and every processed delivery is timed with its disposition.
func TestWorkerMetricsFollowAnOrder(t *testing.T) {
	e := newEnv(t)
	m := metrics.New(metrics.NewRegistry(), metrics.Backend)
	e.proc.Metrics = m
	b := newBroker()
	fails := 2
	e.receipts.Fail = func(string) error {
		if fails > 0 {
			fails--
			return orders.Errorf(orders.EUNAVAILABLE, "blob down")
		}
		return nil
	}
	b.send(e.order.ID, e.body)
	b.send(e.order.ID, e.body)
	w := fastWorker(b, e.proc)
	w.Concurrency = 1 // the fake's Fail hook is not safe for concurrent use
	w.Metrics = m
	stop := runWorker(t, w)
	if !b.waitSettled(2, 10*time.Second) {
		t.Fatal("messages not settled")
	}
	stop()
	e.assertConverged(t)

	if got := testutil.ToFloat64(m.OrdersCompleted); got != 1 {
		t.Errorf("orders completed = %v, want 1 (a redelivery is not a second completion)", got)
	}
	if n := metricstest.Samples(t, m.OrderLatency); n != 1 {
		t.Errorf("order latency observed %d times, want 1", n)
	}
	if n := metricstest.Samples(t, m.MessageProcessing.WithLabelValues("complete")); n != 2 {
		t.Errorf("processing{complete} = %d, want 2", n)
	}
	if n := metricstest.Samples(t, m.MessageProcessing.WithLabelValues("abandon")); n != 2 {
		t.Errorf("processing{abandon} = %d, want 2 (the two blob failures)", n)
	}
	if n := metricstest.Samples(t, m.MessageDeliveries); n != 4 {
		t.Errorf("deliveries observed %d times, want 4", n)
	}
	if got := testutil.ToFloat64(m.OrdersFailed); got != 0 {
		t.Errorf("orders failed = %v", got)
	}
}

func TestWorkerMetricsDeadLetters(t *testing.T) {
	m := metrics.New(metrics.NewRegistry(), metrics.Backend)
	b := newBroker()
	b.send("garbage", []byte("not json"))
	w := fastWorker(b, &Processor{Metrics: m})
	w.Metrics = m
	stop := runWorker(t, w)
	if !b.waitSettled(1, 10*time.Second) {
		t.Fatal("message not settled")
	}
	stop()
	if got := testutil.ToFloat64(m.DeadLetters.WithLabelValues(ReasonInvalidMessage)); got != 1 {
		t.Errorf("dead letters{InvalidMessage} = %v, want 1", got)
	}
	if n := metricstest.Samples(t, m.MessageProcessing.WithLabelValues("dead_letter")); n != 1 {
		t.Errorf("processing{dead_letter} = %d, want 1", n)
	}
}

func TestWorkerMetricsLockRenewalsAndLosses(t *testing.T) {
	// Held long enough for several renewals, which succeed.
	m := metrics.New(metrics.NewRegistry(), metrics.Backend)
	b := newBroker()
	b.send("m", []byte("m"))
	h := &slowHandler{release: make(chan struct{}), started: make(chan string, 10)}
	w := fastWorker(b, h)
	w.Metrics = m
	stop := runWorker(t, w)
	<-h.started
	renewed := m.LockRenewals.WithLabelValues(metrics.OutcomeOK)
	for deadline := time.Now().Add(5 * time.Second); testutil.ToFloat64(renewed) < 2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	close(h.release)
	b.waitSettled(1, 5*time.Second)
	stop()
	if got := testutil.ToFloat64(renewed); got < 2 {
		t.Errorf("lock renewals{ok} = %v, want at least 2", got)
	}
	if got := testutil.ToFloat64(m.LockLosses); got != 0 {
		t.Errorf("lock losses = %v", got)
	}

	// The broker says the lock is gone: one loss, and the message is not settled.
	m = metrics.New(metrics.NewRegistry(), metrics.Backend)
	b = newBroker()
	b.renewErr = servicebus.ErrLockLost
	b.send("m", []byte("m"))
	h = &slowHandler{release: make(chan struct{}), started: make(chan string, 10)}
	w = fastWorker(b, h)
	w.Metrics = m
	stop = runWorker(t, w)
	<-h.started
	for deadline := time.Now().Add(5 * time.Second); h.canceled.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	if got := testutil.ToFloat64(m.LockLosses); got != 1 {
		t.Errorf("lock losses = %v, want 1", got)
	}
	if n := metricstest.Samples(t, m.MessageProcessing.WithLabelValues("none")); n != 1 {
		t.Errorf("processing{none} = %d, want 1 (lost lock, not settled)", n)
	}
}

func TestProcessorCountsFailedOrders(t *testing.T) {
	e := newEnv(t)
	m := metrics.New(metrics.NewRegistry(), metrics.Backend)
	e.proc.Metrics = m
	bad := e.order.Clone()
	bad.ID = "order-with-retired-product"
	bad.Items = []orders.Item{{ProductID: "retired-product", Quantity: 1}}
	e.orders.Put(bad)
	for range 2 { // the redelivery of a Failed order is not a second failure
		if err := e.proc.Process(context.Background(), placedBody(t, bad)); err != nil {
			t.Fatal(err)
		}
	}
	if got := testutil.ToFloat64(m.OrdersFailed); got != 1 {
		t.Errorf("orders failed = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.OrdersCompleted); got != 0 {
		t.Errorf("orders completed = %v", got)
	}
}
