package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/orders/orderstest"
)

// env is a processor over in-memory stores with one Pending order in them.
type env struct {
	orders   *orderstest.Orders
	receipts *orderstest.Receipts
	events   *orderstest.Publisher
	secrets  *orderstest.Secrets
	proc     *Processor
	order    *orders.Order
	body     []byte
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{
		orders:   orderstest.NewOrders(),
		receipts: orderstest.NewReceipts(),
		events:   orderstest.NewPublisher(),
		secrets:  orderstest.NewSecrets("v1", []byte("key-one-0123456789abcdef0123456789")),
	}
	clock := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	var clockMu sync.Mutex
	e.proc = &Processor{Orders: e.orders, Receipts: e.receipts, Events: e.events, Secrets: e.secrets, Catalog: orders.DefaultCatalog(),
		Now: func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); clock = clock.Add(time.Second); return clock }}
	o, err := orders.NewOrder(orders.PlaceOrderInput{CustomerID: "alice", Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: 2}, {ProductID: "kettle-gooseneck", Quantity: 1}}}, e.proc.Catalog, clock)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.orders.Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	e.order = o
	e.body = placedBody(t, o)
	return e
}

func placedBody(t *testing.T, o *orders.Order) []byte {
	ev, err := orders.NewOrderPlacedEvent(o, "/orderflow/frontend", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ev.Encode()
	return b
}

// assertConverged checks the end state: one receipt, verifying with the key version
// it names, referenced by the Completed order, and one OrderCompleted.
func (e *env) assertConverged(t *testing.T) *orders.Receipt {
	t.Helper()
	ctx := context.Background()
	if e.receipts.Len() != 1 || e.receipts.Writes != 1 {
		t.Fatalf("receipts stored = %d (writes %d), want exactly 1", e.receipts.Len(), e.receipts.Writes)
	}
	rc, err := e.receipts.Get(ctx, e.order.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	r, err := orders.DecodeReceipt(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	key, err := e.secrets.KeyVersion(ctx, r.KeyVersion)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(key); err != nil {
		t.Fatalf("stored receipt does not verify: %v", err)
	}
	if r.Total != 2*1200+5450 || r.Sum() != nil {
		t.Errorf("receipt total = %d", r.Total)
	}
	o, _ := e.orders.Get(ctx, e.order.ID)
	if o.Status != orders.StatusCompleted || o.ReceiptBlob != e.order.ID+".json" || o.ReceiptKeyVersion != r.KeyVersion || !o.Published {
		t.Errorf("order = %+v, want Completed referencing the stored receipt", o)
	}
	_, completed := e.events.Snapshot()
	if len(completed) != 1 || completed[0] != e.order.ID {
		t.Errorf("OrderCompleted events accepted = %v, want exactly one", completed)
	}
	return r
}

func TestProcessHappyPath(t *testing.T) {
	e := newEnv(t)
	if err := e.proc.Process(context.Background(), e.body); err != nil {
		t.Fatal(err)
	}
	r := e.assertConverged(t)
	if r.KeyVersion != "v1" {
		t.Errorf("key version = %s", r.KeyVersion)
	}
}

func TestProcessTwiceIsIdempotent(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 3; i++ {
		if err := e.proc.Process(context.Background(), e.body); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
	e.assertConverged(t)
	if e.events.Sends != 1 {
		t.Errorf("publish attempts = %d, want 1: the order records that its OrderCompleted was published", e.events.Sends)
	}
}

// TestRedeliveryAfterDuplicateWindowDoesNotRepublish processes the same OrderPlaced
// twice with a publisher that has no duplicate detection left (the window passed, or
// the broker restarted) and counts sends: the second delivery must not publish.
func TestRedeliveryAfterDuplicateWindowDoesNotRepublish(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.proc.Process(ctx, e.body); err != nil {
		t.Fatal(err)
	}
	e.events = orderstest.NewPublisher() // forgets the message IDs it saw
	e.proc.Events = e.events
	if err := e.proc.Process(ctx, e.body); err != nil {
		t.Fatal(err)
	}
	if e.events.Sends != 0 {
		t.Errorf("second delivery published %d time(s), want 0", e.events.Sends)
	}
	o, _ := e.orders.Get(ctx, e.order.ID)
	if !o.CompletedPublished || o.CompletedPublishedAt == nil {
		t.Errorf("order does not record its OrderCompleted: %+v", o)
	}

	// Crash between publish and record: the record is missing, so the next
	// delivery publishes again (once) and records it.
	o.CompletedPublished, o.CompletedPublishedAt = false, nil
	e.orders.Put(o)
	if err := e.proc.Process(ctx, e.body); err != nil {
		t.Fatal(err)
	}
	if e.events.Sends != 1 {
		t.Errorf("delivery after a lost record published %d time(s), want 1", e.events.Sends)
	}
	if o, _ := e.orders.Get(ctx, e.order.ID); !o.CompletedPublished {
		t.Error("the re-publish was not recorded")
	}
}

// TestCrashBetweenEverySteps makes each step after the first one fail once (as if the
// process died right after the previous step), redelivers, and checks convergence. The
// signing key is rotated between the deliveries: the first receipt must win.
func TestCrashBetweenEveryPairOfSteps(t *testing.T) {
	type fault struct {
		name string
		arm  func(e *env, fail func(string) error)
	}
	faults := []fault{
		{"after load, before signing key", func(e *env, f func(string) error) { e.secrets.Fail = f }},
		{"before receipt write", func(e *env, f func(string) error) { e.receipts.Fail = f }},
		{"after receipt write, before mark completed", func(e *env, f func(string) error) { e.orders.Fail = f }},
		{"after mark completed, before publish", func(e *env, f func(string) error) { e.events.Fail = f }},
	}
	ops := map[string]string{
		"after load, before signing key":             "SigningKey",
		"before receipt write":                       "PutIfAbsent",
		"after receipt write, before mark completed": "MarkCompleted",
		"after mark completed, before publish":       "PublishOrderCompleted",
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t)
			crashed := false
			f.arm(e, func(op string) error {
				if op == ops[f.name] && !crashed {
					crashed = true
					return orders.WrapError(orders.EUNAVAILABLE, "crash", errors.New("process killed"))
				}
				return nil
			})
			err := e.proc.Process(context.Background(), e.body)
			if !crashed || err == nil || !orders.IsRetryable(err) {
				t.Fatalf("first delivery: crashed=%v err=%v, want a retryable error", crashed, err)
			}
			e.secrets.Rotate("v2", []byte("key-two-0123456789abcdef0123456789"))
			if err := e.proc.Process(context.Background(), e.body); err != nil {
				t.Fatalf("redelivery: %v", err)
			}
			r := e.assertConverged(t)
			// Before the receipt write, the redelivery signs with the new key; after
			// it, the stored receipt (old key) is reused.
			wantVersion := "v2"
			if ops[f.name] == "MarkCompleted" || ops[f.name] == "PublishOrderCompleted" {
				wantVersion = "v1"
			}
			if r.KeyVersion != wantVersion {
				t.Errorf("receipt key version = %s, want %s", r.KeyVersion, wantVersion)
			}
		})
	}
	// After publish, before the message is completed: a plain redelivery.
	t.Run("after publish, before message complete", func(t *testing.T) {
		e := newEnv(t)
		_ = e.proc.Process(context.Background(), e.body)
		_ = e.proc.Process(context.Background(), e.body)
		e.assertConverged(t)
	})
}

func TestStaleETagIsReread(t *testing.T) {
	e := newEnv(t)
	// Someone (the frontend marking the order published) writes between our read and
	// our update: the first MarkCompleted sees a stale etag.
	first := true
	e.orders.Fail = func(op string) error {
		if op == "MarkCompleted" && first {
			first = false
			cur, _ := e.orders.Get(context.Background(), e.order.ID)
			return e.orders.MarkPublished(context.Background(), cur)
		}
		return nil
	}
	// The hook's write happens, then the real MarkCompleted runs with the old etag.
	if err := e.proc.Process(context.Background(), e.body); err != nil {
		t.Fatal(err)
	}
	e.assertConverged(t)
}

func TestInvalidMessagesAreDeadLettered(t *testing.T) {
	e := newEnv(t)
	missing := e.order.Clone()
	missing.ID = "no-such-order"
	cases := map[string]struct {
		body   []byte
		reason string
	}{
		"not json":      {[]byte("{oops"), ReasonInvalidMessage},
		"not an event":  {[]byte(`{"hello":"world"}`), ReasonUnsupportedEvent},
		"unknown type":  {[]byte(`{"specversion":"1.0","type":"com.contoso.orderflow.order.placed.v2","source":"s","id":"x","data":{}}`), ReasonUnsupportedEvent},
		"bad data":      {[]byte(`{"specversion":"1.0","type":"` + orders.TypeOrderPlaced + `","source":"s","id":"x","data":{"orderId":"../x","customerId":"c"}}`), ReasonInvalidMessage},
		"missing order": {placedBody(t, missing), ReasonOrderNotFound},
	}
	for name, c := range cases {
		err := e.proc.Process(context.Background(), c.body)
		var dl *DeadLetterError
		if !errors.As(err, &dl) || dl.Reason != c.reason || dl.Description == "" {
			t.Errorf("%s: err = %v, want dead-letter %s", name, err, c.reason)
		}
	}
	if e.receipts.Len() != 0 {
		t.Error("an invalid message produced a receipt")
	}
}

func TestUnpriceableOrderFails(t *testing.T) {
	e := newEnv(t)
	bad := e.order.Clone()
	bad.ID = "order-with-retired-product"
	bad.Items = []orders.Item{{ProductID: "retired-product", Quantity: 1}}
	e.orders.Put(bad)
	if err := e.proc.Process(context.Background(), placedBody(t, bad)); err != nil {
		t.Fatalf("an unpriceable order is consumed, not retried: %v", err)
	}
	got, _ := e.orders.Get(context.Background(), bad.ID)
	if got.Status != orders.StatusFailed || got.FailureReason == "" {
		t.Errorf("order = %+v, want Failed with a reason", got)
	}
	// Redelivery of a Failed order is a no-op.
	if err := e.proc.Process(context.Background(), placedBody(t, bad)); err != nil || e.receipts.Len() != 0 {
		t.Errorf("redelivery: %v, receipts %d", err, e.receipts.Len())
	}
}

func TestTransientErrorsAreRetryable(t *testing.T) {
	e := newEnv(t)
	e.receipts.Fail = func(string) error {
		return orders.WrapError(orders.EUNAVAILABLE, "Blob Storage is unavailable.", fmt.Errorf("503"))
	}
	err := e.proc.Process(context.Background(), e.body)
	var dl *DeadLetterError
	if err == nil || errors.As(err, &dl) || !orders.IsRetryable(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
}
