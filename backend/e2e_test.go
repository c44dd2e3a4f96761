package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/contoso/orderflow/localazure/stack"
	"github.com/contoso/orderflow/localazure/stack/stacktest"
	"github.com/contoso/orderflow/platform/azure/azuretest"
	"github.com/contoso/orderflow/platform/blob"
	"github.com/contoso/orderflow/platform/cosmos"
	"github.com/contoso/orderflow/platform/keyvault"
	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/servicebus"
)

// local is the stack the end-to-end tests share.
var local stacktest.Harness

func TestMain(m *testing.M) { os.Exit(local.Main(m, stack.Options{Blob: true})) }

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestBackendEndToEnd runs the real backend (run, as main does) against the local
// stack with the backend workload's identity, and drives it as the frontend would.
func TestBackendEndToEnd(t *testing.T) {
	st := local.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()

	env := st.Env("backend")
	env["HEALTH_ADDR"] = "127.0.0.1:0"
	env["WORKER_CONCURRENCY"] = "2"
	env["SHUTDOWN_TIMEOUT"] = "5s"
	env["LOG_LEVEL"] = "debug"
	logs := &syncBuffer{}
	runCtx, stop := context.WithCancel(ctx)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(runCtx, func(k string) string { return env[k] }, logs, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("backend exited: %v\n%s", err, logs)
	case <-ctx.Done():
		t.Fatal("backend did not start")
	}

	// Ready once every dependency answers with the backend's identity.
	waitFor(t, ctx, "readyz 200", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == 200
	})

	fe, fcfg := azuretest.ClientsFor(t, local.Require(t).Env("frontend"))
	store := cosmos.New(fe.Orders)
	events, err := servicebus.NewSubscriptionReceiver(fe.ServiceBus, fcfg.ServiceBus.EventsTopic, fcfg.ServiceBus.EventsSubscription)
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close(ctx)
	pub, err := servicebus.NewPublisher(fe.ServiceBus, fcfg.ServiceBus.OrdersQueue, servicebus.SourceFrontend)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close(ctx)
	placer := &orders.Placer{Orders: store, Publisher: pub, Catalog: orders.DefaultCatalog()}

	completedBefore := scrapeCounter(t, "http://"+addr+"/metrics", "orderflow_orders_completed_total")
	o, err := placer.Place(ctx, orders.PlaceOrderInput{CustomerID: "e2e-alice", Items: []orders.Item{{ProductID: "espresso-beans-1kg", Quantity: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	var done1 *orders.Order
	waitFor(t, ctx, "order completed", func() bool {
		got, err := store.GetByCustomer(ctx, o.CustomerID, o.ID)
		// Completed, and the publish of OrderCompleted recorded (the worker's last
		// write): from here on a redelivery must change nothing.
		if err == nil && got.Status == orders.StatusCompleted && got.CompletedPublished {
			done1 = got
			return true
		}
		return false
	})
	// The health server's /metrics (what the PodMonitor scrapes) counts the completion.
	waitFor(t, ctx, "orders_completed_total to grow", func() bool {
		return scrapeCounter(t, "http://"+addr+"/metrics", "orderflow_orders_completed_total") > completedBefore
	})

	// The receipt verifies with the Key Vault version it names, read by the frontend.
	rc, err := blob.NewReceipts(fe.Blob, fcfg.Storage.ReceiptsContainer).Get(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	r, err := orders.DecodeReceipt(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	key, err := keyvault.New(fe.Secrets, fcfg.KeyVault.SecretName, time.Minute, nil).KeyVersion(ctx, r.KeyVersion)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(key); err != nil || r.Total != 2*2450 || done1.ReceiptKeyVersion != r.KeyVersion {
		t.Fatalf("receipt %+v: verify %v; order %+v", r, err, done1)
	}
	ev := receiveEvent(t, ctx, events, orders.CompletedEventID(o.ID))
	if d, err := ev.OrderCompleted(); err != nil || d.Total != r.Total || d.KeyVersion != r.KeyVersion {
		t.Fatalf("OrderCompleted = %+v, %v", d, err)
	}

	// A redelivery (the same event under another MessageId, past the queue's duplicate
	// detection) changes nothing: same receipt, same order document, and the worker's
	// re-publish of the identical OrderCompleted is dropped by the topic's duplicate
	// detection, so subscribers see the event once.
	raw, err := fe.ServiceBus.NewSender(fcfg.ServiceBus.OrdersQueue, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(ctx)
	placed, _ := orders.NewOrderPlacedEvent(o, servicebus.SourceFrontend, time.Now())
	body, _ := placed.Encode()
	dupID := o.ID + "-redelivery"
	if err := raw.SendMessage(ctx, &azservicebus.Message{MessageID: &dupID, Body: body}, nil); err != nil {
		t.Fatal(err)
	}
	// The worker recorded that it published OrderCompleted, so the redelivery ends
	// with this line instead of a second "order completed".
	redeliveredLine := `"msg":"OrderCompleted already published; not publishing again","service":"backend","order_id":"` + o.ID + `"`
	waitFor(t, ctx, "the redelivery to be processed", func() bool {
		if strings.Contains(logs.String(), redeliveredLine) {
			return true
		}
		time.Sleep(100 * time.Millisecond)
		return false
	})
	if n := countEvents(t, ctx, events, orders.CompletedEventID(o.ID), 3*time.Second); n != 0 {
		t.Errorf("the redelivery reached subscribers as %d more OrderCompleted event(s)", n)
	}
	after, _ := store.GetByCustomer(ctx, o.CustomerID, o.ID)
	if after.ETag != done1.ETag {
		t.Errorf("the redelivery rewrote the order")
	}
	rc, _ = blob.NewReceipts(fe.Blob, fcfg.Storage.ReceiptsContainer).Get(ctx, o.ID)
	r2, _ := orders.DecodeReceipt(rc)
	rc.Close()
	if r2.Signature != r.Signature {
		t.Errorf("the redelivery replaced the receipt")
	}

	// An invalid message is dead-lettered with a reason.
	badID := "e2e-garbage-" + orders.NewID()[:8]
	if err := raw.SendMessage(ctx, &azservicebus.Message{MessageID: &badID, Body: []byte("{not json")}, nil); err != nil {
		t.Fatal(err)
	}
	be, bcfg := azuretest.ClientsFor(t, local.Require(t).Env("backend"))
	dlq, err := servicebus.NewDeadLetterReceiver(be.ServiceBus, bcfg.ServiceBus.OrdersQueue)
	if err != nil {
		t.Fatal(err)
	}
	defer dlq.Close(ctx)
	var reason string
	waitFor(t, ctx, "dead-lettered message", func() bool {
		c, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		ms, _ := dlq.Receive(c, 10)
		for _, m := range ms {
			if m.ID == badID {
				reason, _ = m.DeadLetterReason()
				_ = dlq.Complete(ctx, m)
				return true
			}
			_ = dlq.Abandon(ctx, m)
		}
		return false
	})
	if reason != "InvalidMessage" {
		t.Errorf("dead-letter reason = %q", reason)
	}

	// SIGTERM: run returns nil promptly.
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("backend did not shut down")
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"order completed"`) || !strings.Contains(out, `"msg":"backend stopping"`) {
		t.Errorf("logs lack the expected lines:\n%s", out)
	}
	if strings.Contains(out, "eyJ") {
		t.Errorf("a token leaked into the logs")
	}
}

func receiveEvent(t *testing.T, ctx context.Context, r *servicebus.Receiver, id string) orders.Event {
	t.Helper()
	var ev orders.Event
	waitFor(t, ctx, "event "+id, func() bool {
		c, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		ms, _ := r.Receive(c, 10)
		found := false
		for _, m := range ms {
			_ = r.Complete(ctx, m)
			if m.ID == id && !found {
				e, err := orders.DecodeEvent(m.Body)
				if err != nil {
					t.Fatalf("event %s: %v", id, err)
				}
				ev, found = e, true
			}
		}
		return found
	})
	return ev
}

// countEvents receives from r for the whole of wait and counts the messages whose
// MessageId is id, completing everything it receives.
func countEvents(t *testing.T, ctx context.Context, r *servicebus.Receiver, id string, wait time.Duration) int {
	t.Helper()
	n := 0
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		c, cancel := context.WithDeadline(ctx, deadline)
		ms, _ := r.Receive(c, 10)
		cancel()
		for _, m := range ms {
			_ = r.Complete(ctx, m)
			if m.ID == id {
				n++
			}
		}
	}
	return n
}

// scrapeCounter reads one unlabelled series from a Prometheus text exposition.
func scrapeCounter(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("%s not in %s:\n%s", name, url, body)
	return 0
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for {
		if cond() {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
