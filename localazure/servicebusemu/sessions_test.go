package servicebusemu

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	goamqp "github.com/Azure/go-amqp"
)

func withSessionQueue(o *Options) {
	ns := &o.Entities.Namespaces[0]
	ns.Queues = append(ns.Queues, QueueConfig{Name: "sessions", Properties: QueueProperties{RequiresSession: true, LockDuration: "PT1M"}})
}

func sessionMsg(sid, b string) *azservicebus.Message {
	return &azservicebus.Message{SessionID: &sid, Body: []byte(b)}
}

func TestSessions(t *testing.T) {
	tb := startBroker(t, withSessionQueue)
	c := tb.client(t)
	ctx := ctxT(t, 30*time.Second)
	send(t, c, "sessions", sessionMsg("a", "a1"), sessionMsg("b", "b1"), sessionMsg("a", "a2"), sessionMsg("b", "b2"))

	// A message without a session id is refused by a session queue.
	s, _ := c.NewSender("sessions", nil)
	if err := s.SendMessage(ctx, body("no-session"), nil); err == nil {
		t.Fatal("message without SessionID accepted")
	}
	// A plain receiver cannot attach to a session queue.
	plain, _ := c.NewReceiverForQueue("sessions", nil)
	if _, err := plain.ReceiveMessages(ctx, 1, nil); err == nil {
		t.Fatal("non-session receiver on a session queue")
	}

	ra, err := c.AcceptSessionForQueue(ctx, "sessions", "a", nil)
	if err != nil {
		t.Fatalf("accept a: %v", err)
	}
	if ra.SessionID() != "a" || time.Until(ra.LockedUntil()) < 30*time.Second {
		t.Fatalf("session %q locked until %v", ra.SessionID(), ra.LockedUntil())
	}
	// Session a is taken: a second receiver cannot have it.
	c2 := tb.client(t)
	if _, err := c2.AcceptSessionForQueue(ctx, "sessions", "a", nil); err == nil {
		t.Fatal("session a accepted twice")
	}
	got := receiveSession(t, ra, 2)
	if got[0] != "a1" || got[1] != "a2" {
		t.Fatalf("session a gave %v", got)
	}
	if err := ra.SetSessionState(ctx, []byte("checkpoint"), nil); err != nil {
		t.Fatalf("set state: %v", err)
	}
	if st, err := ra.GetSessionState(ctx, nil); err != nil || string(st) != "checkpoint" {
		t.Fatalf("get state: %q %v", st, err)
	}
	if err := ra.RenewSessionLock(ctx, nil); err != nil {
		t.Fatalf("renew session lock: %v", err)
	}

	// Accept-next gets the other session with messages.
	rb, err := c2.AcceptNextSessionForQueue(ctx, "sessions", nil)
	if err != nil {
		t.Fatalf("accept next: %v", err)
	}
	if rb.SessionID() != "b" {
		t.Fatalf("next session %q", rb.SessionID())
	}
	if got := receiveSession(t, rb, 2); got[0] != "b1" || got[1] != "b2" {
		t.Fatalf("session b gave %v", got)
	}
	rb.Close(ctx)
	ra.Close(ctx)

	// Closing releases the session: another receiver gets it and its state.
	ra2, err := c2.AcceptSessionForQueue(ctx, "sessions", "a", nil)
	if err != nil {
		t.Fatalf("re-accept a: %v", err)
	}
	if st, err := ra2.GetSessionState(ctx, nil); err != nil || string(st) != "checkpoint" {
		t.Fatalf("state after re-accept: %q %v", st, err)
	}
	ra2.Close(ctx)

	// Accept-next with nothing available waits, then gets a session that
	// receives a message meanwhile.
	go func() {
		time.Sleep(300 * time.Millisecond)
		send(t, tb.client(t), "sessions", sessionMsg("late", "l1"))
	}()
	rl, err := c.AcceptNextSessionForQueue(ctx, "sessions", nil)
	if err != nil || rl.SessionID() != "late" {
		t.Fatalf("waiting accept-next: %v", err)
	}
	receiveSession(t, rl, 1)
	rl.Close(ctx)

	// And with a short deadline and nothing to get, it times out.
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err = c.AcceptNextSessionForQueue(short, "sessions", nil)
	var sbErr *azservicebus.Error
	if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeTimeout {
		t.Fatalf("accept-next with nothing available: want a timeout, got %v", err)
	}
}

func receiveSession(t *testing.T, r *azservicebus.SessionReceiver, n int) []string {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	var out []string
	for len(out) < n {
		msgs, err := r.ReceiveMessages(ctx, n-len(out), nil)
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		for _, m := range msgs {
			out = append(out, string(m.Body))
			if err := r.CompleteMessage(ctx, m, nil); err != nil {
				t.Fatalf("complete: %v", err)
			}
		}
	}
	return out
}

func TestSessionLockExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a session lock to expire")
	}
	tb := startBroker(t, func(o *Options) {
		ns := &o.Entities.Namespaces[0]
		ns.Queues = append(ns.Queues, QueueConfig{Name: "short-sessions", Properties: QueueProperties{RequiresSession: true, LockDuration: "PT1S"}})
	})
	c := tb.client(t)
	ctx := ctxT(t, 20*time.Second)
	send(t, c, "short-sessions", sessionMsg("s", "1"))
	r, err := c.AcceptSessionForQueue(ctx, "short-sessions", "s", nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1300 * time.Millisecond)
	// The lock lapsed: another receiver can take the session and its message.
	c2 := tb.client(t)
	r2, err := c2.AcceptSessionForQueue(ctx, "short-sessions", "s", nil)
	if err != nil {
		t.Fatalf("accept after expiry: %v", err)
	}
	if got := receiveSession(t, r2, 1); got[0] != "1" {
		t.Fatalf("got %v", got)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if msgs, _ := r.ReceiveMessages(short, 1, nil); len(msgs) != 0 {
		t.Fatal("the expired session receiver still receives")
	}
}

// TestGetMessageSessions drives com.microsoft:get-message-sessions, which the
// Go client does not expose, through go-amqp.
func TestGetMessageSessions(t *testing.T) {
	tb := startBroker(t, withSessionQueue)
	send(t, tb.client(t), "sessions", sessionMsg("x", "1"), sessionMsg("y", "2"), sessionMsg("x", "3"))
	s := dialBroker(t, tb)
	if code := putToken(t, s, tb, "amqp://"+tb.addr+"/sessions"); code != 202 {
		t.Fatalf("put-token %d", code)
	}
	ctx := ctxT(t, 10*time.Second)
	snd, err := s.NewSender(ctx, "sessions/$management", nil)
	if err != nil {
		t.Fatal(err)
	}
	replyTo := "sessions-mgmt-reply"
	rcv, err := s.NewReceiver(ctx, "sessions/$management", &goamqp.ReceiverOptions{TargetAddress: replyTo})
	if err != nil {
		t.Fatal(err)
	}
	err = snd.Send(ctx, &goamqp.Message{
		Properties:            &goamqp.MessageProperties{MessageID: "q1", ReplyTo: &replyTo},
		ApplicationProperties: map[string]any{"operation": "com.microsoft:get-message-sessions"},
		Value:                 map[string]any{"last-updated-time": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "skip": int32(0), "top": int32(10)},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rcv.Receive(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ApplicationProperties["statusCode"] != int32(200) {
		t.Fatalf("status %v %v", resp.ApplicationProperties["statusCode"], resp.ApplicationProperties["statusDescription"])
	}
	ids, _ := resp.Value.(map[string]any)["sessions-ids"].([]string)
	if len(ids) != 2 || ids[0] != "x" || ids[1] != "y" {
		t.Fatalf("sessions %v", resp.Value)
	}
}

// TestManySessions spreads messages over many sessions and drains them with
// several accept-next receivers, checking per-session order.
func TestManySessions(t *testing.T) {
	if testing.Short() {
		t.Skip("load")
	}
	tb := startBroker(t, withSessionQueue)
	c := tb.client(t)
	ctx := ctxT(t, 60*time.Second)
	const sessions, per = 20, 50
	s, _ := c.NewSender("sessions", nil)
	batch, _ := s.NewMessageBatch(ctx, nil)
	for i := range per {
		for sid := range sessions {
			if err := batch.AddMessage(sessionMsg(fmt.Sprint("s", sid), fmt.Sprint(i)), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.SendMessageBatch(ctx, batch, nil); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string][]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				actx, cancel := context.WithTimeout(ctx, time.Second)
				r, err := c.AcceptNextSessionForQueue(actx, "sessions", nil)
				cancel()
				if err != nil {
					return // no session left
				}
				for {
					rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
					msgs, _ := r.ReceiveMessages(rctx, 20, nil)
					cancel()
					if len(msgs) == 0 {
						break
					}
					for _, m := range msgs {
						var n int
						fmt.Sscan(string(m.Body), &n)
						mu.Lock()
						seen[*m.SessionID] = append(seen[*m.SessionID], n)
						mu.Unlock()
						if err := r.CompleteMessage(ctx, m, nil); err != nil {
							t.Error(err)
						}
					}
				}
				r.Close(ctx)
			}
		}()
	}
	wg.Wait()
	if len(seen) != sessions {
		t.Fatalf("%d sessions seen", len(seen))
	}
	for sid, ns := range seen {
		if len(ns) != per {
			t.Fatalf("session %s: %d messages", sid, len(ns))
		}
		for i, n := range ns {
			if n != i {
				t.Fatalf("session %s out of order: %v", sid, ns)
			}
		}
	}
}
