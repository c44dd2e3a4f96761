package servicebusemu

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// TestExpiredLockIsLostAndRedelivered: after ExpireLocks the SDK's complete fails
// with MessageLockLost (the code a real processor sees when it outlasts its lock)
// and the message comes back with its delivery count raised.
func TestExpiredLockIsLostAndRedelivered(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.client(t)
	send(t, c, "orders", body("slow"))
	r, _ := c.NewReceiverForQueue("orders", nil)
	m := receiveN(t, r, 1)[0]
	if n := tb.ExpireLocks(); n != 1 {
		t.Fatalf("ExpireLocks expired %d locks, want 1", n)
	}
	time.Sleep(300 * time.Millisecond) // a few sweeps
	err := r.CompleteMessage(ctxT(t, 10*time.Second), m, nil)
	var sbErr *azservicebus.Error
	if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeLockLost {
		t.Fatalf("complete after the lock expired: %v, want CodeLockLost", err)
	}
	again := receiveN(t, r, 1)[0]
	if string(again.Body) != "slow" || again.DeliveryCount != m.DeliveryCount+1 {
		t.Fatalf("redelivered %q with count %d, want count %d", again.Body, again.DeliveryCount, m.DeliveryCount+1)
	}
	if err := r.CompleteMessage(ctxT(t, 5*time.Second), again, nil); err != nil {
		t.Fatal(err)
	}
}

// TestDroppedConnectionsRecover: after every socket is cut the SDK reconnects,
// and sending and receiving go on without the application doing anything.
func TestDroppedConnectionsRecover(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.client(t)
	send(t, c, "orders", body("before"))
	r, _ := c.NewReceiverForQueue("orders", nil)
	first := receiveN(t, r, 1)[0]
	if err := r.CompleteMessage(ctxT(t, 5*time.Second), first, nil); err != nil {
		t.Fatal(err)
	}
	if n := tb.DropConnections(); n == 0 {
		t.Fatal("DropConnections found no connection")
	}
	send(t, c, "orders", body("after"))
	m := receiveN(t, r, 1)[0]
	if string(m.Body) != "after" {
		t.Fatalf("received %q after the drop", m.Body)
	}
	if err := r.CompleteMessage(ctxT(t, 10*time.Second), m, nil); err != nil {
		t.Fatalf("complete after reconnecting: %v", err)
	}
}

// TestBlockedSubscriptionReceiverRecoversFromDrops: a receiver waiting in
// ReceiveMessages on a subscription while every connection is cut, repeatedly,
// gets the messages sent after the drops without the application doing anything.
func TestBlockedSubscriptionReceiverRecoversFromDrops(t *testing.T) {
	tb := startBroker(t, nil)
	recvClient := tb.client(t)
	r, err := recvClient.NewReceiverForSubscription("order-events", "all", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			msgs, err := r.ReceiveMessages(ctx, 8, nil)
			if err != nil {
				continue
			}
			for _, m := range msgs {
				_ = r.CompleteMessage(ctx, m, nil)
				got <- string(m.Body)
			}
		}
	}()
	sendClient := tb.client(t)
	send(t, sendClient, "order-events", body("warm"))
	if b := <-got; b != "warm" {
		t.Fatalf("got %q", b)
	}
	for range 4 {
		tb.DropConnections()
		time.Sleep(250 * time.Millisecond)
	}
	send(t, sendClient, "order-events", body("after"))
	select {
	case b := <-got:
		if b != "after" {
			t.Fatalf("got %q", b)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the subscription receiver got nothing within 20 s of the drops")
	}
}
