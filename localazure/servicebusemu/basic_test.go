package servicebusemu

import (
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

func TestSendReceiveComplete(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.client(t)
	ctx := ctxT(t, 20*time.Second)
	s, err := c.NewSender("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	subject := "created"
	if err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte("hello"), Subject: &subject,
		ApplicationProperties: map[string]any{"n": int64(7)}}, nil); err != nil {
		t.Fatalf("send: %v", err)
	}
	r, err := c.NewReceiverForQueue("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := r.ReceiveMessages(ctx, 1, nil)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if len(msgs) != 1 {
		t.Fatalf("got %d messages", len(msgs))
	}
	m := msgs[0]
	if string(m.Body) != "hello" || m.Subject == nil || *m.Subject != "created" || m.ApplicationProperties["n"] != int64(7) {
		t.Fatalf("message = %+v", m)
	}
	if m.DeliveryCount != 1 || m.SequenceNumber == nil || *m.SequenceNumber != 1 || m.LockedUntil == nil || m.EnqueuedTime == nil {
		t.Fatalf("system properties: count %d seq %v locked %v enq %v", m.DeliveryCount, m.SequenceNumber, m.LockedUntil, m.EnqueuedTime)
	}
	if err := r.CompleteMessage(ctx, m, nil); err != nil {
		t.Fatalf("complete: %v", err)
	}
	if n, _ := tb.MessageCount("orders"); n != 0 {
		t.Fatalf("%d messages left after complete", n)
	}
}
