package interop_test

import (
	"encoding/json"
	"slices"
	"testing"
)

type pyMsg struct {
	N             int
	MessageID     string
	DeliveryCount int
	Seq           int64
	SessionID     string
	Reason        string
	Description   string
}

type pySession struct {
	SessionID string
	Messages  []pyMsg
}

type pyReport struct {
	Run      string
	Send     json.RawMessage
	Peek     json.RawMessage
	Settle   json.RawMessage
	Sessions json.RawMessage
}

func ns(ms []pyMsg) []int {
	out := make([]int, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.N)
	}
	slices.Sort(out)
	return out
}

// TestServiceBusPython runs azure-servicebus over uamqp by SAS and by workload
// identity token, each over AMQPS and over AMQP on WebSockets (uamqp dials
// wss://host:port/$servicebus/websocket/, with the trailing slash).
func TestServiceBusPython(t *testing.T) {
	for _, auth := range []string{"sas", "token"} {
		for _, transport := range []string{"amqps", "websocket"} {
			t.Run(auth+"-"+transport, func(t *testing.T) {
				extra := sasKey(t)
				for k, v := range backendIdentity() {
					extra[k] = v
				}
				var got pyReport
				runPython(t, "servicebus_uamqp.py", "frontend", extra, &got, auth, transport)
				checkPython(t, auth, got)
			})
		}
	}
}

func checkPython(t *testing.T, auth string, got pyReport) {
	t.Helper()
	var sent struct{ Batch int }
	if decode(t, "send", got.Send, &sent) && sent.Batch != 3 {
		t.Errorf("send: batch of %d, want 3", sent.Batch)
	}
	var peeked []int
	if decode(t, "peek", got.Peek, &peeked) && !slices.Equal(peeked, []int{1, 2, 3, 4}) {
		t.Errorf("peek: %v, want [1 2 3 4]", peeked)
	}
	var settle struct{ Received, Redelivered, DeadLettered []pyMsg }
	if decode(t, "settle", got.Settle, &settle) {
		if !slices.Equal(ns(settle.Received), []int{1, 2, 3, 4}) {
			t.Errorf("received %v, want [1 2 3 4]", ns(settle.Received))
		}
		for _, m := range settle.Received {
			if m.DeliveryCount != 0 || m.Seq <= 0 || m.MessageID == "" {
				t.Errorf("first delivery %+v: want delivery count 0, a sequence number and the message id", m)
			}
		}
		if len(settle.Redelivered) != 1 || settle.Redelivered[0].N != 2 || settle.Redelivered[0].DeliveryCount != 1 {
			t.Errorf("abandoned message redelivered as %+v, want n=2 with delivery count 1", settle.Redelivered)
		}
		if len(settle.DeadLettered) != 1 || settle.DeadLettered[0].N != 3 ||
			settle.DeadLettered[0].Reason != "bad-order" || settle.DeadLettered[0].Description != "rejected by interop test" {
			t.Errorf("dead-letter queue holds %+v, want n=3 with reason and description", settle.DeadLettered)
		}
	}
	if auth != "sas" {
		return
	}
	var sess struct{ Named, Next pySession }
	if decode(t, "sessions", got.Sessions, &sess) {
		// uamqp sends the session filter as a plain string: a broker that read only
		// the described form would hand s1's receiver any session.
		if sess.Named.SessionID != "s1" || !slices.Equal(ns(sess.Named.Messages), []int{20, 22}) {
			t.Errorf("session s1 receiver got %+v, want s1's messages 20 and 22", sess.Named)
		}
		if sess.Next.SessionID != "s2" || !slices.Equal(ns(sess.Next.Messages), []int{21}) {
			t.Errorf("next-available receiver got %+v, want session s2 with message 21", sess.Next)
		}
		for _, m := range append(sess.Named.Messages, sess.Next.Messages...) {
			if m.SessionID == "" {
				t.Errorf("message %d without its session id", m.N)
			}
		}
	}
}

type protonReport struct {
	Run      string
	Send     json.RawMessage
	Receive  json.RawMessage
	Sessions json.RawMessage
}

// TestServiceBusProton runs a plain AMQP 1.0 client, Apache Qpid Proton, that
// knows nothing of Service Bus: its requests to $cbs and $management carry no
// reply-to, and it settles received messages itself.
func TestServiceBusProton(t *testing.T) {
	for _, auth := range []string{"sas", "token"} {
		t.Run(auth, func(t *testing.T) {
			extra := sasKey(t)
			for k, v := range backendIdentity() {
				extra[k] = v
			}
			var got protonReport
			runPython(t, "servicebus_proton.py", "frontend", extra, &got, auth)
			var sent struct{ PutToken, Sent int }
			if decode(t, "send", got.Send, &sent) && (sent.PutToken != 202 || sent.Sent != 2) {
				t.Errorf("send: %+v, want put-token 202 and 2 sent", sent)
			}
			var recv struct {
				PutToken, PeekStatus, Peeked int
				Completed                    []int
			}
			if decode(t, "receive", got.Receive, &recv) {
				if recv.PutToken != 202 || recv.PeekStatus != 200 || recv.Peeked != 2 {
					t.Errorf("receive: %+v, want put-token 202 and both messages peeked", recv)
				}
				if !slices.Equal(recv.Completed, []int{1, 2}) {
					t.Errorf("completed %v, want [1 2]", recv.Completed)
				}
			}
			if auth != "sas" {
				return
			}
			var sess struct {
				Named struct {
					N         int
					SessionID string
				}
				Answered string
			}
			if decode(t, "sessions", got.Sessions, &sess) && (sess.Named.N != 31 || sess.Named.SessionID != "p1" || sess.Answered != "p1") {
				t.Errorf("session p1 receiver got %+v (attach answered %q), want message 31 of p1, answered as a described p1", sess.Named, sess.Answered)
			}
		})
	}
}
