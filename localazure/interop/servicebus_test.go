package interop_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

type sbMsg struct {
	N             int
	MessageID     string
	Subject       string
	DeliveryCount int
	Seq           int64
	HasLock       bool
	Reason        string
	Description   string
	Source        string
}

type sbReport struct {
	Run              string
	SendOne          any
	SendBatch        json.RawMessage
	Peek             json.RawMessage
	Settle           json.RawMessage
	DeadLetter       json.RawMessage
	Schedule         json.RawMessage
	ReceiveAndDelete json.RawMessage
	Subscribe        json.RawMessage
	Topic            json.RawMessage
	FrontendReceive  json.RawMessage
	BackendSend      json.RawMessage
}

// decode decodes one step's result, failing the test with the step's error.
func decode(t *testing.T, step string, raw json.RawMessage, v any) bool {
	t.Helper()
	var e struct{ Error, Code, Name string }
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		t.Errorf("%s: %s (%s %s)", step, e.Error, e.Name, e.Code)
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Errorf("%s: %v in %s", step, err, raw)
		return false
	}
	return true
}

func TestServiceBusToken(t *testing.T) {
	requireNode(t)
	var got sbReport
	runNode(t, "servicebus.mjs", "frontend", backendIdentity(), &got, "token")
	checkServiceBus(t, got)
	// Roles are per identity: the frontend may not receive from orders, nor the backend send.
	for name, raw := range map[string]json.RawMessage{"frontend receiving from orders": got.FrontendReceive, "backend sending to orders": got.BackendSend} {
		var e struct{ Error, Code, Name string }
		if json.Unmarshal(raw, &e); e.Error == "" {
			t.Errorf("%s: %s, want refused", name, raw)
		} else if e.Code != "UnauthorizedAccess" {
			t.Errorf("%s: refused with code %q (%s), want UnauthorizedAccess", name, e.Code, e.Error)
		}
	}
}

func TestServiceBusConnectionString(t *testing.T) {
	requireNode(t)
	var got sbReport
	runNode(t, "servicebus.mjs", "frontend", map[string]string{"SERVICEBUS_CONNECTION_STRING": st.Endpoints().ServiceBusConnectionString}, &got, "connstr")
	checkServiceBus(t, got)
}

func checkServiceBus(t *testing.T, got sbReport) {
	t.Helper()
	if got.SendOne != "ok" {
		t.Errorf("sendMessages: %v", got.SendOne)
	}
	var batch struct{ Count int }
	if decode(t, "batch", got.SendBatch, &batch) && batch.Count != 3 {
		t.Errorf("batch count = %d", batch.Count)
	}
	var peek []int
	if decode(t, "peekMessages", got.Peek, &peek) && !slices.Equal(peek, []int{1, 2, 3, 4}) {
		t.Errorf("peekMessages: %v, want [1 2 3 4] in order", peek)
	}
	var settle struct{ Received, Redelivered []sbMsg }
	if decode(t, "settle", got.Settle, &settle) {
		if len(settle.Received) != 4 {
			t.Fatalf("receiveMessages: %+v, want 4", settle.Received)
		}
		for i, m := range settle.Received {
			if m.N != i+1 || m.MessageID != got.Run+"-"+string(rune('1'+i)) || m.Subject != "order" || !m.HasLock {
				t.Errorf("received %+v", m)
			}
		}
		if len(settle.Redelivered) != 1 || settle.Redelivered[0].N != 2 || settle.Redelivered[0].DeliveryCount != settle.Received[1].DeliveryCount+1 {
			t.Errorf("after abandon: %+v, want n=2 with deliveryCount %d+1", settle.Redelivered, settle.Received[1].DeliveryCount)
		}
	}
	var dlq []sbMsg
	if decode(t, "dead letter", got.DeadLetter, &dlq) && (len(dlq) != 1 || dlq[0].N != 3 || dlq[0].Reason != "bad-order" || dlq[0].Description != "rejected by interop test") {
		t.Errorf("dead-letter queue: %+v, want n=3 with reason bad-order", dlq)
	}
	var sched struct {
		Seqs   []int64
		Peeked []struct {
			N                int
			State, Scheduled string
		}
		Received []int
	}
	if decode(t, "schedule", got.Schedule, &sched) {
		if len(sched.Seqs) != 2 || sched.Seqs[0] <= 0 || sched.Seqs[1] <= sched.Seqs[0] {
			t.Errorf("scheduleMessages sequence numbers: %v", sched.Seqs)
		}
		if len(sched.Peeked) != 2 || sched.Peeked[0].State != "scheduled" || sched.Peeked[1].State != "scheduled" || sched.Peeked[1].Scheduled == "" {
			t.Errorf("peek of scheduled messages: %+v, want both in state scheduled", sched.Peeked)
		}
		if !slices.Equal(sched.Received, []int{10}) {
			t.Errorf("received after scheduling 10 (+1.5 s) and cancelling 11: %v, want [10]", sched.Received)
		}
	}
	var rd struct {
		Received []struct {
			N       int
			HasLock bool
		}
		Left []int
	}
	if decode(t, "receiveAndDelete", got.ReceiveAndDelete, &rd) && (len(rd.Received) != 2 || rd.Received[0].HasLock || len(rd.Left) != 0) {
		t.Errorf("receiveAndDelete: %+v, want 2 without lock tokens and none left", rd)
	}
	var subscribe struct {
		Received, Left []int
		IDs            map[string]string
	}
	if decode(t, "subscribe", got.Subscribe, &subscribe) {
		if !slices.Equal(subscribe.Received, []int{30, 31}) || len(subscribe.Left) != 0 {
			t.Errorf("subscribe: %+v, want [30 31] auto-completed", subscribe)
		}
		// 31 was sent without a messageId: the broker assigned one, as Service Bus does.
		if id := subscribe.IDs["31"]; len(id) != 32 || subscribe.IDs["30"] != got.Run+"-30" {
			t.Errorf("message ids: %v, want the sender's for 30 and 32 hex digits for 31", subscribe.IDs)
		}
	}
	var topic []sbMsg
	if decode(t, "topic", got.Topic, &topic) && (len(topic) != 1 || topic[0].N != 40 || !strings.HasPrefix(topic[0].Subject, "order-created")) {
		t.Errorf("topic → subscription: %+v", topic)
	}
}
