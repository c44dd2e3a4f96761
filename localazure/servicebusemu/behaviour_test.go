package servicebusemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

func send(t *testing.T, c *azservicebus.Client, entity string, msgs ...*azservicebus.Message) {
	t.Helper()
	s, err := c.NewSender(entity, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	for _, m := range msgs {
		if err := s.SendMessage(ctxT(t, 10*time.Second), m, nil); err != nil {
			t.Fatalf("send to %s: %v", entity, err)
		}
	}
}

func receiveN(t *testing.T, r *azservicebus.Receiver, n int) []*azservicebus.ReceivedMessage {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	var out []*azservicebus.ReceivedMessage
	for len(out) < n {
		msgs, err := r.ReceiveMessages(ctx, n-len(out), nil)
		if err != nil {
			t.Fatalf("receive (have %d of %d): %v", len(out), n, err)
		}
		out = append(out, msgs...)
	}
	return out
}

// expectNone checks that nothing arrives within d.
func expectNone(t *testing.T, r *azservicebus.Receiver, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	msgs, err := r.ReceiveMessages(ctx, 1, nil)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("receive: %v", err)
	}
	if len(msgs) > 0 {
		t.Fatalf("unexpected message %q", msgs[0].Body)
	}
}

func body(s string) *azservicebus.Message { return &azservicebus.Message{Body: []byte(s)} }

func TestTopicFilters(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.client(t)
	created := "created"
	send(t, c, "order-events",
		&azservicebus.Message{Body: []byte("red5"), ApplicationProperties: map[string]any{"color": "red", "qty": int64(5)}},
		&azservicebus.Message{Body: []byte("red2"), ApplicationProperties: map[string]any{"color": "red", "qty": int32(2)}},
		&azservicebus.Message{Body: []byte("blue9"), ApplicationProperties: map[string]any{"color": "blue", "qty": 9.5}},
		&azservicebus.Message{Body: []byte("eu-created"), Subject: &created, ApplicationProperties: map[string]any{"region": "eu"}},
		&azservicebus.Message{Body: []byte("us-created"), Subject: &created, ApplicationProperties: map[string]any{"region": "us"}},
	)
	bodies := func(sub string, n int) []string {
		r, err := c.NewReceiverForSubscription("order-events", sub, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close(context.Background())
		var out []string
		for _, m := range receiveN(t, r, n) {
			out = append(out, string(m.Body))
		}
		expectNone(t, r, 200*time.Millisecond)
		return out
	}
	if got := bodies("all", 5); len(got) != 5 {
		t.Fatalf("all: %v", got)
	}
	if got := bodies("red", 1); got[0] != "red5" {
		t.Fatalf("red: %v", got)
	}
	if got := bodies("corr", 1); got[0] != "eu-created" {
		t.Fatalf("corr: %v", got)
	}
	// Receiving from the topic itself is refused.
	r, err := c.NewReceiverForQueue("order-events", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReceiveMessages(ctxT(t, 5*time.Second), 1, nil); err == nil {
		t.Fatal("receiving from a topic succeeded")
	}
}

func TestAbandonDeadLetterAndDLQ(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.client(t)
	ctx := ctxT(t, 20*time.Second)
	send(t, c, "orders", body("a"), body("b"))
	r, err := c.NewReceiverForQueue("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs := receiveN(t, r, 2)
	if err := r.AbandonMessage(ctx, msgs[0], nil); err != nil {
		t.Fatalf("abandon: %v", err)
	}
	reason, desc := "bad-order", "missing customer"
	if err := r.DeadLetterMessage(ctx, msgs[1], &azservicebus.DeadLetterOptions{Reason: &reason, ErrorDescription: &desc}); err != nil {
		t.Fatalf("dead-letter: %v", err)
	}
	again := receiveN(t, r, 1)[0]
	if string(again.Body) != "a" || again.DeliveryCount != 2 {
		t.Fatalf("redelivered %q count %d", again.Body, again.DeliveryCount)
	}
	// Abandon up to MaxDeliveryCount (3) dead-letters it.
	if err := r.AbandonMessage(ctx, again, nil); err != nil {
		t.Fatal(err)
	}
	third := receiveN(t, r, 1)[0]
	if third.DeliveryCount != 3 {
		t.Fatalf("third delivery count %d", third.DeliveryCount)
	}
	if err := r.AbandonMessage(ctx, third, nil); err != nil {
		t.Fatal(err)
	}
	expectNone(t, r, 200*time.Millisecond)

	dlq, err := c.NewReceiverForQueue("orders", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	if err != nil {
		t.Fatal(err)
	}
	dl := receiveN(t, dlq, 2)
	sort.Slice(dl, func(i, j int) bool { return *dl[i].SequenceNumber < *dl[j].SequenceNumber })
	if string(dl[0].Body) != "a" || dl[0].DeadLetterReason == nil || *dl[0].DeadLetterReason != "MaxDeliveryCountExceeded" {
		t.Fatalf("dlq[0] = %q reason %v", dl[0].Body, dl[0].DeadLetterReason)
	}
	if string(dl[1].Body) != "b" || *dl[1].DeadLetterReason != reason || *dl[1].DeadLetterErrorDescription != desc ||
		dl[1].DeadLetterSource == nil || *dl[1].DeadLetterSource != "orders" {
		t.Fatalf("dlq[1] = %q reason %v desc %v source %v", dl[1].Body, dl[1].DeadLetterReason, dl[1].DeadLetterErrorDescription, dl[1].DeadLetterSource)
	}
	for _, m := range dl {
		if err := dlq.CompleteMessage(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := tb.MessageCount("orders/$DeadLetterQueue"); n != 0 {
		t.Fatalf("dlq holds %d", n)
	}
}

func TestLockExpiryRedeliversAndLockLost(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for lock expiry")
	}
	tb := startBroker(t, nil)
	c := tb.client(t)
	ctx := ctxT(t, 20*time.Second)
	send(t, c, "short-lock", body("x"))
	r, err := c.NewReceiverForQueue("short-lock", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := receiveN(t, r, 1)[0]
	time.Sleep(1500 * time.Millisecond)
	err = r.CompleteMessage(ctx, m, nil)
	var sbErr *azservicebus.Error
	if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeLockLost {
		t.Fatalf("complete after expiry: %v", err)
	}
	m2 := receiveN(t, r, 1)[0]
	if m2.DeliveryCount != 2 {
		t.Fatalf("delivery count after expiry = %d", m2.DeliveryCount)
	}
	// Renewing keeps the lock past its original expiry.
	if err := r.RenewMessageLock(ctx, m2, nil); err != nil {
		t.Fatalf("renew: %v", err)
	}
	time.Sleep(700 * time.Millisecond)
	if err := r.RenewMessageLock(ctx, m2, nil); err != nil {
		t.Fatalf("renew 2: %v", err)
	}
	time.Sleep(700 * time.Millisecond)
	if err := r.CompleteMessage(ctx, m2, nil); err != nil {
		t.Fatalf("complete after renewals: %v", err)
	}
}

func TestCrashedReceiverMessageComesBack(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for lock expiry")
	}
	tb := startBroker(t, nil)
	c := tb.client(t)
	send(t, c, "short-lock", body("survivor"))
	c2, err := azservicebus.NewClientFromConnectionString(tb.connStr, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := c2.NewReceiverForQueue("short-lock", nil)
	receiveN(t, r, 1)
	c2.Close(context.Background()) // gone without settling
	r2, _ := c.NewReceiverForQueue("short-lock", nil)
	m := receiveN(t, r2, 1)[0]
	if string(m.Body) != "survivor" || m.DeliveryCount != 2 {
		t.Fatalf("got %q count %d", m.Body, m.DeliveryCount)
	}
	if err := r2.CompleteMessage(ctxT(t, 5*time.Second), m, nil); err != nil {
		t.Fatal(err)
	}
}

func TestDeferAndReceiveDeferred(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.client(t)
	ctx := ctxT(t, 20*time.Second)
	send(t, c, "orders", body("later"))
	r, _ := c.NewReceiverForQueue("orders", nil)
	m := receiveN(t, r, 1)[0]
	if err := r.DeferMessage(ctx, m, nil); err != nil {
		t.Fatalf("defer: %v", err)
	}
	expectNone(t, r, 200*time.Millisecond)
	peeked, err := r.PeekMessages(ctx, 10, nil)
	if err != nil || len(peeked) != 1 || peeked[0].State != azservicebus.MessageStateDeferred {
		t.Fatalf("peek deferred: %v %+v", err, peeked)
	}
	got, err := r.ReceiveDeferredMessages(ctx, []int64{*m.SequenceNumber}, nil)
	if err != nil || len(got) != 1 || string(got[0].Body) != "later" {
		t.Fatalf("receive deferred: %v %v", err, got)
	}
	if err := r.CompleteMessage(ctx, got[0], nil); err != nil {
		t.Fatalf("complete deferred: %v", err)
	}
	if n, _ := tb.MessageCount("orders"); n != 0 {
		t.Fatalf("%d left", n)
	}
}

func TestScheduleCancelAndPeek(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.client(t)
	ctx := ctxT(t, 20*time.Second)
	s, _ := c.NewSender("orders", nil)
	seqs, err := s.ScheduleMessages(ctx, []*azservicebus.Message{body("s1"), body("s2")}, time.Now().Add(700*time.Millisecond), nil)
	if err != nil || len(seqs) != 2 {
		t.Fatalf("schedule: %v %v", seqs, err)
	}
	if err := s.CancelScheduledMessages(ctx, []int64{seqs[1]}, nil); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	r, _ := c.NewReceiverForQueue("orders", nil)
	peeked, err := r.PeekMessages(ctx, 10, nil)
	if err != nil || len(peeked) != 1 || peeked[0].State != azservicebus.MessageStateScheduled || string(peeked[0].Body) != "s1" {
		t.Fatalf("peek: %v %+v", err, peeked)
	}
	start := time.Now()
	m := receiveN(t, r, 1)[0]
	if string(m.Body) != "s1" || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("got %q after %v", m.Body, time.Since(start))
	}
	r.CompleteMessage(ctx, m, nil)
	expectNone(t, r, 300*time.Millisecond)
	// Scheduling by annotation on a plain send works too (ScheduledEnqueueTime).
	at := time.Now().Add(300 * time.Millisecond)
	send(t, c, "orders", &azservicebus.Message{Body: []byte("annotated"), ScheduledEnqueueTime: &at})
	if got := receiveN(t, r, 1)[0]; string(got.Body) != "annotated" {
		t.Fatalf("got %q", got.Body)
	}
}

func TestPeekSequence(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.client(t)
	ctx := ctxT(t, 20*time.Second)
	for i := range 5 {
		send(t, c, "orders", body(fmt.Sprint(i)))
	}
	r, _ := c.NewReceiverForQueue("orders", nil)
	first, err := r.PeekMessages(ctx, 3, nil)
	if err != nil || len(first) != 3 {
		t.Fatalf("peek: %v %d", err, len(first))
	}
	rest, err := r.PeekMessages(ctx, 10, nil)
	if err != nil || len(rest) != 2 || string(rest[0].Body) != "3" {
		t.Fatalf("peek continues: %v %d", err, len(rest))
	}
	none, err := r.PeekMessages(ctx, 10, nil)
	if err != nil || len(none) != 0 {
		t.Fatalf("peek at end: %v %d", err, len(none))
	}
}

func TestDuplicateDetection(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.client(t)
	id := "order-42"
	send(t, c, "dedup", &azservicebus.Message{MessageID: &id, Body: []byte("1")}, &azservicebus.Message{MessageID: &id, Body: []byte("2")})
	if n, _ := tb.MessageCount("dedup"); n != 1 {
		t.Fatalf("dedup queue holds %d", n)
	}
}

func TestTTLExpiryDeadLetters(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for expiry")
	}
	tb := startBroker(t, nil)
	c := tb.client(t)
	send(t, c, "expiring", body("old"))
	time.Sleep(1300 * time.Millisecond)
	r, _ := c.NewReceiverForQueue("expiring", nil)
	expectNone(t, r, 200*time.Millisecond)
	dlq, _ := c.NewReceiverForQueue("expiring", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	m := receiveN(t, dlq, 1)[0]
	if string(m.Body) != "old" || m.DeadLetterReason == nil || *m.DeadLetterReason != "TTLExpiredException" {
		t.Fatalf("got %q %v", m.Body, m.DeadLetterReason)
	}
}

func TestBatchAndSizeLimit(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.client(t)
	ctx := ctxT(t, 20*time.Second)
	s, _ := c.NewSender("orders", nil)
	batch, err := s.NewMessageBatch(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := batch.AddMessage(body(fmt.Sprint(i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	big := &azservicebus.Message{Body: bytes.Repeat([]byte("x"), 200*1024)}
	if err := batch.AddMessage(big, nil); err != nil {
		t.Fatalf("adding 200 KB to a small batch: %v", err)
	}
	if err := batch.AddMessage(big, nil); err == nil {
		t.Fatal("a second 200 KB message fit into a batch with a 256 KB limit")
	}
	if err := s.SendMessageBatch(ctx, batch, nil); err != nil {
		t.Fatalf("send batch: %v", err)
	}
	if n, _ := tb.MessageCount("orders"); n != 101 {
		t.Fatalf("queue holds %d", n)
	}
	// A 200 KB message alone fits (multi-frame transfer), 300 KB does not.
	if err := s.SendMessage(ctx, big, nil); err != nil {
		t.Fatalf("send 200 KB: %v", err)
	}
	err = s.SendMessage(ctx, &azservicebus.Message{Body: bytes.Repeat([]byte("x"), 300*1024)}, nil)
	var sbErr *azservicebus.Error
	if err == nil {
		t.Fatal("300 KB message accepted")
	}
	_ = sbErr
	r, _ := c.NewReceiverForQueue("orders", &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	got := receiveN(t, r, 102)
	if string(got[0].Body) != "0" || len(got[100].Body) != 200*1024 || len(got[101].Body) != 200*1024 {
		t.Fatalf("first %q, last %d bytes", got[0].Body, len(got[101].Body))
	}
	if n, _ := tb.MessageCount("orders"); n != 0 {
		t.Fatalf("receive-and-delete left %d", n)
	}
}

func TestAbandonWithPropertiesAndReceiveAndDeleteOnSubscriptionDLQ(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.client(t)
	ctx := ctxT(t, 20*time.Second)
	send(t, c, "orders", body("p"))
	r, _ := c.NewReceiverForQueue("orders", nil)
	m := receiveN(t, r, 1)[0]
	if err := r.AbandonMessage(ctx, m, &azservicebus.AbandonMessageOptions{PropertiesToModify: map[string]any{"retry": int64(1)}}); err != nil {
		t.Fatal(err)
	}
	m = receiveN(t, r, 1)[0]
	if m.ApplicationProperties["retry"] != int64(1) {
		t.Fatalf("properties after abandon: %v", m.ApplicationProperties)
	}
	r.CompleteMessage(ctx, m, nil)

	send(t, c, "order-events", &azservicebus.Message{Body: []byte("bad"), ApplicationProperties: map[string]any{"color": "red", "qty": int64(9)}})
	sr, _ := c.NewReceiverForSubscription("order-events", "red", nil)
	sm := receiveN(t, sr, 1)[0]
	if err := sr.DeadLetterMessage(ctx, sm, nil); err != nil {
		t.Fatal(err)
	}
	dlq, _ := c.NewReceiverForSubscription("order-events", "red", &azservicebus.ReceiverOptions{
		SubQueue: azservicebus.SubQueueDeadLetter, ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	dm := receiveN(t, dlq, 1)[0]
	if string(dm.Body) != "bad" || dm.DeadLetterSource == nil || *dm.DeadLetterSource != "order-events/Subscriptions/red" {
		t.Fatalf("subscription DLQ: %q %v", dm.Body, dm.DeadLetterSource)
	}
	if n, _ := tb.MessageCount("order-events/Subscriptions/red/$DeadLetterQueue"); n != 0 {
		t.Fatalf("DLQ still holds %d", n)
	}
}

func TestTopicScheduledMessage(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.client(t)
	ctx := ctxT(t, 20*time.Second)
	s, _ := c.NewSender("order-events", nil)
	seqs, err := s.ScheduleMessages(ctx, []*azservicebus.Message{body("t1"), body("t2")}, time.Now().Add(300*time.Millisecond), nil)
	if err != nil || len(seqs) != 2 {
		t.Fatal(err)
	}
	if err := s.CancelScheduledMessages(ctx, seqs[:1], nil); err != nil {
		t.Fatal(err)
	}
	r, _ := c.NewReceiverForSubscription("order-events", "all", nil)
	m := receiveN(t, r, 1)[0]
	if string(m.Body) != "t2" {
		t.Fatalf("got %q", m.Body)
	}
	expectNone(t, r, 400*time.Millisecond)
}

func TestBrokerCloseClosesClients(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.client(t)
	send(t, c, "orders", body("x"))
	done := make(chan error, 1)
	go func() { done <- tb.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung")
	}
	s, _ := c.NewSender("orders", &azservicebus.NewSenderOptions{})
	if err := s.SendMessage(ctxT(t, time.Second), body("y"), nil); err == nil {
		t.Fatal("send succeeded after broker close")
	}
}

func TestAutoForwarding(t *testing.T) {
	tb := startBroker(t, func(o *Options) {
		ns := &o.Entities.Namespaces[0]
		ns.Queues = append(ns.Queues,
			QueueConfig{Name: "fwd-in", Properties: QueueProperties{ForwardTo: "order-events"}},
			QueueConfig{Name: "cyc-a", Properties: QueueProperties{ForwardTo: "cyc-b"}},
			QueueConfig{Name: "cyc-b", Properties: QueueProperties{ForwardTo: "cyc-a"}},
		)
	})
	c := tb.client(t)
	send(t, c, "fwd-in", &azservicebus.Message{Body: []byte("via-fwd"), ApplicationProperties: map[string]any{"color": "red", "qty": int64(7)}})
	r, _ := c.NewReceiverForSubscription("order-events", "red", &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	if m := receiveN(t, r, 1)[0]; string(m.Body) != "via-fwd" {
		t.Fatalf("got %q", m.Body)
	}
	// A forwarding cycle ends in a dead-letter queue instead of spinning.
	send(t, c, "cyc-a", body("loop"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		na, _ := tb.MessageCount("cyc-a/$DeadLetterQueue")
		nb, _ := tb.MessageCount("cyc-b/$DeadLetterQueue")
		if na+nb == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dead-lettered %d + %d", na, nb)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRuleAction(t *testing.T) {
	tb := startBroker(t, func(o *Options) {
		tp := &o.Entities.Namespaces[0].Topics[0]
		tp.Subscriptions = append(tp.Subscriptions, SubscriptionConfig{Name: "annotated", Rules: []RuleConfig{{Name: "r",
			Properties: RuleProperties{FilterType: "Sql", SqlFilter: &SqlExpression{SqlExpression: "color = 'red'"},
				Action: &SqlExpression{SqlExpression: "SET priority = 'high'; SET qty = qty * 10; SET sys.Label = 'urgent'; REMOVE color"}}}}})
	})
	c := tb.client(t)
	send(t, c, "order-events", &azservicebus.Message{Body: []byte("r"), ApplicationProperties: map[string]any{"color": "red", "qty": int64(2)}})
	r, _ := c.NewReceiverForSubscription("order-events", "annotated", &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	m := receiveN(t, r, 1)[0]
	if m.ApplicationProperties["priority"] != "high" || m.ApplicationProperties["qty"] != int64(20) || m.ApplicationProperties["color"] != nil ||
		m.Subject == nil || *m.Subject != "urgent" {
		t.Fatalf("after action: props %v subject %v", m.ApplicationProperties, m.Subject)
	}
	// Other subscriptions get the message untouched.
	ra, _ := c.NewReceiverForSubscription("order-events", "all", &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	if m := receiveN(t, ra, 1)[0]; m.ApplicationProperties["color"] != "red" || m.Subject != nil {
		t.Fatalf("untouched copy: %v %v", m.ApplicationProperties, m.Subject)
	}
}
