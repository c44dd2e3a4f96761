package integration

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"go.opentelemetry.io/otel/trace"

	"github.com/contoso/orderflow/platform/azure"
	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/servicebus"
)

// receiveID receives from r until the message with id arrives, completing any other
// message on the way (left over from an earlier test), and fails after a while.
func receiveID(t *testing.T, r *servicebus.Receiver, id string) *servicebus.Message {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ms, err := r.Receive(ctx, 10)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && orders.ErrorCode(err) != orders.EUNAVAILABLE {
			t.Fatalf("receive: %v", err)
		}
		var found *servicebus.Message
		for _, m := range ms {
			if m.ID == id && found == nil {
				found = m
				continue
			}
			_ = r.Abandon(context.Background(), m)
		}
		if found != nil {
			return found
		}
	}
	t.Fatalf("message %s not received", id)
	return nil
}

// noMessage checks that no message with id arrives within d.
func noMessage(t *testing.T, r *servicebus.Receiver, id string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for ctx.Err() == nil {
		ms, _ := r.Receive(ctx, 10)
		for _, m := range ms {
			if m.ID == id {
				t.Errorf("unexpected message %s (delivery %d)", id, m.DeliveryCount)
			}
			_ = r.Complete(context.Background(), m)
		}
	}
}

func TestServiceBusOrdersQueue(t *testing.T) {
	fe, fcfg := clientsFor(t, "frontend")
	be, bcfg := clientsFor(t, "backend")
	ctx := testCtx(t)
	pub, err := servicebus.NewPublisher(fe.ServiceBus, fcfg.ServiceBus.OrdersQueue, servicebus.SourceFrontend)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close(ctx)
	recv, err := servicebus.NewQueueReceiver(be.ServiceBus, bcfg.ServiceBus.OrdersQueue)
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close(ctx)

	o := newOrder(t, "cust-sb", time.Now())
	// A caller's span context (the frontend's request span in production).
	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, TraceFlags: trace.FlagsSampled,
	})
	if err := pub.PublishOrderPlaced(trace.ContextWithSpanContext(ctx, parent), o); err != nil {
		t.Fatalf("send: %v", err)
	}
	// A re-send (the reconciler's) is dropped by duplicate detection.
	if err := pub.PublishOrderPlaced(ctx, o); err != nil {
		t.Fatalf("re-send: %v", err)
	}
	m := receiveID(t, recv, o.ID)
	if m.DeliveryCount != 1 || m.ContentType != orders.ContentTypeCloudEvents || m.Subject != orders.TypeOrderPlaced {
		t.Errorf("message = %+v", m)
	}
	// The broker keeps the trace context: the consumer span continues the trace.
	_, span := servicebus.StartProcess(ctx, m)
	if got := span.SpanContext().TraceID(); got != parent.TraceID() {
		t.Errorf("consumer trace %s does not continue trace %s (properties %v)", got, parent.TraceID(), m.Properties)
	}
	span.End()
	if m.Properties["traceparent"] != m.Properties[servicebus.DiagnosticIDProperty] {
		t.Errorf("Diagnostic-Id %v differs from traceparent %v", m.Properties[servicebus.DiagnosticIDProperty], m.Properties["traceparent"])
	}
	ev, err := orders.DecodeEvent(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := ev.OrderPlaced(); err != nil || d.OrderID != o.ID || d.CustomerID != o.CustomerID {
		t.Fatalf("event data = %+v, %v", d, err)
	}

	// Renew, abandon: redelivered with the count raised.
	before := m.LockedUntil
	time.Sleep(10 * time.Millisecond)
	if err := recv.RenewLock(ctx, m); err != nil {
		t.Fatalf("renew lock: %v", err)
	}
	if !m.LockedUntil.After(before) {
		t.Errorf("lock not extended: %v → %v", before, m.LockedUntil)
	}
	if err := recv.Abandon(ctx, m); err != nil {
		t.Fatal(err)
	}
	m2 := receiveID(t, recv, o.ID)
	if m2.DeliveryCount != 2 {
		t.Errorf("redelivery count = %d, want 2", m2.DeliveryCount)
	}

	// Dead-letter with a reason; it shows up in the DLQ with it.
	if err := recv.DeadLetter(ctx, m2, "InvalidMessage", "test dead-letter"); err != nil {
		t.Fatal(err)
	}
	dlq, err := servicebus.NewDeadLetterReceiver(be.ServiceBus, bcfg.ServiceBus.OrdersQueue)
	if err != nil {
		t.Fatal(err)
	}
	defer dlq.Close(ctx)
	dm := receiveID(t, dlq, o.ID)
	if reason, desc := dm.DeadLetterReason(); reason != "InvalidMessage" || desc != "test dead-letter" {
		t.Errorf("dead-letter reason = %q %q", reason, desc)
	}
	if err := dlq.Complete(ctx, dm); err != nil {
		t.Fatal(err)
	}
	noMessage(t, recv, o.ID, 2*time.Second)
}

func TestServiceBusOrderEvents(t *testing.T) {
	fe, fcfg := clientsFor(t, "frontend")
	be, bcfg := clientsFor(t, "backend")
	ctx := testCtx(t)
	// Open the subscription first so the event is not missed.
	sub, err := servicebus.NewSubscriptionReceiver(fe.ServiceBus, fcfg.ServiceBus.EventsTopic, fcfg.ServiceBus.EventsSubscription)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close(ctx)
	pub, err := servicebus.NewEventPublisher(be.ServiceBus, bcfg.ServiceBus.EventsTopic, servicebus.SourceBackend)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close(ctx)
	o := newOrder(t, "cust-ev", time.Now())
	r := &orders.Receipt{OrderID: o.ID, CustomerID: o.CustomerID, Total: o.Total, IssuedAt: time.Now().UTC(), KeyVersion: "v1"}
	if err := pub.PublishOrderCompleted(ctx, o, r); err != nil {
		t.Fatalf("publish: %v", err)
	}
	m := receiveID(t, sub, orders.CompletedEventID(o.ID))
	ev, err := orders.DecodeEvent(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ev.OrderCompleted()
	if err != nil || d.OrderID != o.ID || d.KeyVersion != "v1" || d.ReceiptBlob != o.ID+".json" {
		t.Errorf("event data = %+v, %v", d, err)
	}
	if err := sub.Complete(ctx, m); err != nil {
		t.Fatal(err)
	}
}

// TestServiceBusRefusalsSayWhich: the broker refuses for two different reasons, and
// only one of them is fixed by a role assignment. The frontend may not send to the
// events topic (the backend's), which the broker words as a missing claim; a token
// the broker cannot verify is refused before any role is looked at.
func TestServiceBusRefusalsSayWhich(t *testing.T) {
	fe, fcfg := clientsFor(t, "frontend")
	ctx := testCtx(t)
	pub, err := servicebus.NewEventPublisher(fe.ServiceBus, fcfg.ServiceBus.EventsTopic, servicebus.SourceFrontend)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close(ctx)
	err = pub.PublishOrderCompleted(ctx, newOrder(t, "cust-sb-denied", time.Now()), &orders.Receipt{})
	if msg := orders.ErrorMessage(err); !strings.Contains(msg, "access denied (check the workload's Service Bus role assignments)") {
		t.Errorf("send without the role: message %q (err %v)", msg, err)
	}

	tlsConfig, err := azure.NewTLSConfig(local.Require(t).CAFile())
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(fcfg.ServiceBus.Namespace)
	tlsConfig.ServerName = host
	bad, err := azservicebus.NewClient(fcfg.ServiceBus.Namespace, staticToken("not-a-token"), &azservicebus.ClientOptions{
		TLSConfig: tlsConfig, RetryOptions: azservicebus.RetryOptions{MaxRetries: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close(ctx)
	pub2, err := servicebus.NewPublisher(bad, fcfg.ServiceBus.OrdersQueue, servicebus.SourceFrontend)
	if err != nil {
		t.Fatal(err)
	}
	defer pub2.Close(ctx)
	err = pub2.PublishOrderPlaced(ctx, newOrder(t, "cust-sb-badtoken", time.Now()))
	msg := orders.ErrorMessage(err)
	if !strings.Contains(msg, "the broker refused the workload's token") || strings.Contains(msg, "role assignments") {
		t.Errorf("send with a token the broker cannot verify: message %q (err %v)", msg, err)
	}
}

// staticToken is a credential that hands out one fixed access token.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}
