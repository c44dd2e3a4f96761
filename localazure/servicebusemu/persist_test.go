package servicebusemu

import (
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

func TestPersistenceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	withDir := func(o *Options) { o.DataDir = dir }
	tb := startBroker(t, withDir)
	c := tb.client(t)
	ctx := ctxT(t, 30*time.Second)
	send(t, c, "orders", body("keep-1"), body("abandoned"), body("deferred"), body("dead"), body("done"))
	r, _ := c.NewReceiverForQueue("orders", nil)
	msgs := receiveN(t, r, 5)
	byBody := map[string]*azservicebus.ReceivedMessage{}
	for _, m := range msgs {
		byBody[string(m.Body)] = m
	}
	if err := r.AbandonMessage(ctx, byBody["abandoned"], nil); err != nil {
		t.Fatal(err)
	}
	if err := r.DeferMessage(ctx, byBody["deferred"], nil); err != nil {
		t.Fatal(err)
	}
	if err := r.DeadLetterMessage(ctx, byBody["dead"], nil); err != nil {
		t.Fatal(err)
	}
	if err := r.CompleteMessage(ctx, byBody["done"], nil); err != nil {
		t.Fatal(err)
	}
	// keep-1 stays locked: a restart makes it available again.
	s, _ := c.NewSender("order-events", nil)
	if _, err := s.ScheduleMessages(ctx, []*azservicebus.Message{body("later")}, time.Now().Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	sq, _ := c.NewSender("orders", nil)
	schedSeq, err := sq.ScheduleMessages(ctx, []*azservicebus.Message{body("scheduled")}, time.Now().Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	send(t, c, "order-events", &azservicebus.Message{Body: []byte("fanned"), ApplicationProperties: map[string]any{"color": "red", "qty": int64(4)}})
	c.Close(ctx)
	if err := tb.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	tb2 := startBroker(t, withDir)
	c2 := tb2.client(t)
	if n, _ := tb2.MessageCount("orders"); n != 4 { // keep-1, abandoned, deferred, scheduled
		t.Fatalf("orders holds %d after restart", n)
	}
	r2, _ := c2.NewReceiverForQueue("orders", nil)
	got := receiveN(t, r2, 2)
	bodies := map[string]uint32{}
	for _, m := range got {
		bodies[string(m.Body)] = m.DeliveryCount
		r2.CompleteMessage(ctx, m, nil)
	}
	if bodies["keep-1"] != 1 || bodies["abandoned"] != 2 {
		t.Fatalf("after restart: %v", bodies)
	}
	expectNone(t, r2, 200*time.Millisecond)
	d, err := r2.ReceiveDeferredMessages(ctx, []int64{*byBody["deferred"].SequenceNumber}, nil)
	if err != nil || len(d) != 1 || string(d[0].Body) != "deferred" {
		t.Fatalf("deferred after restart: %v %v", err, d)
	}
	peek, err := r2.PeekMessages(ctx, 10, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &schedSeq[0]})
	if err != nil || len(peek) != 1 || peek[0].State != azservicebus.MessageStateScheduled {
		t.Fatalf("scheduled after restart: %v %v", err, peek)
	}
	dlq, _ := c2.NewReceiverForQueue("orders", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	if m := receiveN(t, dlq, 1)[0]; string(m.Body) != "dead" {
		t.Fatalf("dlq after restart: %q", m.Body)
	}
	sr, _ := c2.NewReceiverForSubscription("order-events", "red", nil)
	if m := receiveN(t, sr, 1)[0]; string(m.Body) != "fanned" {
		t.Fatalf("subscription after restart: %q", m.Body)
	}
	// New messages continue the sequence.
	send(t, c2, "orders", body("new"))
	nm := receiveN(t, r2, 1)[0]
	if *nm.SequenceNumber <= schedSeq[0] {
		t.Fatalf("sequence restarted: %d", *nm.SequenceNumber)
	}
}

// TestSessionStatePersists: a session's state set over $management is there after
// a restart on the same DataDir, whether the broker was closed or killed (a second
// broker opened while the first still runs, as after kill -9: no final flush).
func TestSessionStatePersists(t *testing.T) {
	for _, stop := range []string{"closed", "killed"} {
		t.Run(stop, func(t *testing.T) {
			dir := t.TempDir()
			opts := func(o *Options) { o.DataDir = dir; withSessionQueue(o) }
			tb := startBroker(t, opts)
			c := tb.client(t)
			ctx := ctxT(t, 20*time.Second)
			send(t, c, "sessions", sessionMsg("s1", "m"))
			r, err := c.AcceptSessionForQueue(ctx, "sessions", "s1", nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.SetSessionState(ctx, []byte("step-2"), nil); err != nil {
				t.Fatal(err)
			}
			if stop == "closed" {
				c.Close(ctx)
				tb.Close()
			}
			tb2 := startBroker(t, opts)
			r2, err := tb2.client(t).AcceptSessionForQueue(ctx, "sessions", "s1", nil)
			if err != nil {
				t.Fatal(err)
			}
			if st, err := r2.GetSessionState(ctx, nil); err != nil || string(st) != "step-2" {
				t.Fatalf("state after the broker was %s: %q %v", stop, st, err)
			}
			if stop == "closed" {
				if got := receiveSession(t, r2, 1); got[0] != "m" {
					t.Fatalf("message after restart: %v", got)
				}
			}
		})
	}
}
