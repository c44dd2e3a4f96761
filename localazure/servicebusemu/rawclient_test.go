package servicebusemu

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"
)

// These tests drive the broker with go-amqp directly, the way clients in other
// languages behave differently from azservicebus: the CBS reply link found by
// its name rather than its target (JavaScript), credit drained after a short
// receive (.NET, Java), settlement straight on the link with plain AMQP outcomes.

func putToken(t *testing.T, s *goamqp.Session, tb *testBroker, audience string) int32 {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	snd, err := s.NewSender(ctx, "$cbs", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close(ctx)
	// Like rhea/@azure/core-amqp: the reply-to is the receiving link's name and
	// the link has no target address of its own.
	replyTo := "cbs-reply-" + fmt.Sprint(time.Now().UnixNano())
	rcv, err := s.NewReceiver(ctx, "$cbs", &goamqp.ReceiverOptions{Name: replyTo})
	if err != nil {
		t.Fatal(err)
	}
	defer rcv.Close(ctx)
	tok := sasToken(audience, "RootManageSharedAccessKey", EmulatorKey, time.Now().Add(time.Hour))
	id := "req-1"
	err = snd.Send(ctx, &goamqp.Message{
		Value:                 tok,
		Properties:            &goamqp.MessageProperties{MessageID: id, ReplyTo: &replyTo},
		ApplicationProperties: map[string]any{"operation": "put-token", "type": "servicebus.windows.net:sastoken", "name": audience, "expiration": time.Now().Add(time.Hour)},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rcv.Receive(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Properties == nil || resp.Properties.CorrelationID != id {
		t.Fatalf("reply not correlated: %+v", resp.Properties)
	}
	code, ok := resp.ApplicationProperties["status-code"].(int32)
	if !ok {
		t.Fatalf("status-code is %T", resp.ApplicationProperties["status-code"])
	}
	return code
}

func dialBroker(t *testing.T, tb *testBroker) *goamqp.Session {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	c, err := goamqp.Dial(ctx, "amqp://"+tb.addr, &goamqp.ConnOptions{SASLType: goamqp.SASLTypePlain("x", "y")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := c.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestForeignClientDrainAndSettle(t *testing.T) {
	tb := startBroker(t, nil)
	s := dialBroker(t, tb)
	ctx := ctxT(t, 20*time.Second)

	// Without a token the entity link is refused.
	if _, err := s.NewSender(ctx, "orders", nil); !isCond(err, goamqp.ErrCondUnauthorizedAccess) {
		t.Fatalf("attach without token: %v", err)
	}
	if code := putToken(t, s, tb, "amqps://"+tb.ns+"/orders"); code != 202 {
		t.Fatalf("put-token status %d", code)
	}
	snd, err := s.NewSender(ctx, "orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	if snd.MaxMessageSize() != MaxMessageSize {
		t.Fatalf("max message size %d", snd.MaxMessageSize())
	}
	for i := range 3 {
		if err := snd.Send(ctx, &goamqp.Message{Data: [][]byte{[]byte(fmt.Sprint(i))}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	second := goamqp.ReceiverSettleModeSecond
	rcv, err := s.NewReceiver(ctx, "orders", &goamqp.ReceiverOptions{Credit: -1, SettlementMode: &second, Name: "any-name-at-all"})
	if err != nil {
		t.Fatal(err)
	}
	if err := rcv.IssueCredit(10); err != nil {
		t.Fatal(err)
	}
	first, err := rcv.Receive(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Drain the remaining 9 credits: the other two messages arrive, and the
	// drain completes although the queue runs dry.
	if err := rcv.DrainCredit(ctx, nil); err != nil {
		t.Fatalf("drain: %v", err)
	}
	m1, _ := rcv.Receive(ctx, nil)
	m2, _ := rcv.Receive(ctx, nil)
	if m1 == nil || m2 == nil || len(first.DeliveryTag) != 16 {
		t.Fatal("messages missing after drain")
	}
	if _, ok := first.Annotations["x-opt-sequence-number"].(int64); !ok || first.Header == nil {
		t.Fatalf("annotations %v header %v", first.Annotations, first.Header)
	}
	if err := rcv.AcceptMessage(ctx, first); err != nil {
		t.Fatalf("complete: %v", err)
	}
	if err := rcv.ModifyMessage(ctx, m1, &goamqp.ModifyMessageOptions{DeliveryFailed: true}); err != nil {
		t.Fatalf("abandon: %v", err)
	}
	err = rcv.RejectMessage(ctx, m2, &goamqp.Error{Condition: "com.microsoft:dead-letter",
		Info: map[string]any{"DeadLetterReason": "why", "DeadLetterErrorDescription": "because"}})
	if err != nil {
		t.Fatalf("dead-letter: %v", err)
	}
	if n, _ := tb.MessageCount("orders"); n != 1 {
		t.Fatalf("orders holds %d", n)
	}
	if n, _ := tb.MessageCount("orders/$DeadLetterQueue"); n != 1 {
		t.Fatalf("dlq holds %d", n)
	}
	// The abandoned one comes back with its delivery count raised.
	if err := rcv.IssueCredit(1); err != nil {
		t.Fatal(err)
	}
	again, err := rcv.Receive(ctx, nil)
	if err != nil || again.Header.DeliveryCount != 1 {
		t.Fatalf("redelivery: %v %+v", err, again)
	}
	rcv.AcceptMessage(ctx, again)
}

func isCond(err error, cond goamqp.ErrCond) bool {
	var ae *goamqp.Error
	return errors.As(err, &ae) && ae.Condition == cond
}

func TestForeignClientBadToken(t *testing.T) {
	tb := startBroker(t, nil)
	s := dialBroker(t, tb)
	ctx := ctxT(t, 10*time.Second)
	snd, _ := s.NewSender(ctx, "$cbs", nil)
	replyTo := "reply"
	rcv, _ := s.NewReceiver(ctx, "$cbs", &goamqp.ReceiverOptions{TargetAddress: replyTo})
	err := snd.Send(ctx, &goamqp.Message{Value: "SharedAccessSignature sr=x&sig=bad&se=9999999999&skn=RootManageSharedAccessKey",
		Properties:            &goamqp.MessageProperties{MessageID: "1", ReplyTo: &replyTo},
		ApplicationProperties: map[string]any{"operation": "put-token", "type": "servicebus.windows.net:sastoken", "name": "amqp://x/orders"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rcv.Receive(ctx, nil)
	if err != nil || resp.ApplicationProperties["status-code"] != int32(401) {
		t.Fatalf("bad token: %v %v", err, resp.ApplicationProperties)
	}
}

func TestBrokerCloseSendsForcedClose(t *testing.T) {
	tb := startBroker(t, nil)
	ctx := ctxT(t, 10*time.Second)
	c, err := goamqp.Dial(ctx, "amqp://"+tb.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.NewSession(ctx, nil); err != nil {
		t.Fatal(err)
	}
	go tb.Close()
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("client not told")
	}
	var ce *goamqp.ConnError
	if !errors.As(c.Err(), &ce) || ce.RemoteErr == nil || ce.RemoteErr.Condition != goamqp.ErrCondConnectionForced {
		t.Fatalf("client saw %v", c.Err())
	}
}

func TestCloseDoesNotWaitForHandshakes(t *testing.T) {
	tb := startBroker(t, nil)
	nc, err := net.Dial("tcp", tb.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write([]byte("AMQP")) // half a protocol header, then silence
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v", d)
	}
}
