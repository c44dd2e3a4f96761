package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// sbClientAs is an azservicebus client with the workload's identity, as its pod has.
func sbClientAs(t *testing.T, state, workload string) *azservicebus.Client {
	t.Helper()
	env, err := readWorkloadEnv(state, workload)
	if err != nil {
		t.Fatal(err)
	}
	cred, _, err := workloadCredential(env)
	if err != nil {
		t.Fatal(err)
	}
	tlsConf, err := tlsConfigFor(env)
	if err != nil {
		t.Fatal(err)
	}
	c, err := azservicebus.NewClient(env["SERVICEBUS_NAMESPACE"], cred, &azservicebus.ClientOptions{TLSConfig: tlsConf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// TestPeekShowsDeliveryCountsAndLocks: `peek orders` runs as the backend (the
// Receiver on orders in localazure.json) and shows each message's sequence number,
// id, delivery count, lock and body start; an abandoned message's count goes up,
// and peeking locks nothing.
func TestPeekShowsDeliveryCountsAndLocks(t *testing.T) {
	st, cfg, state := startInProcessStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sender, err := sbClientAs(t, state, "frontend").NewSender("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"order-1", "order-2"} {
		if err := sender.SendMessage(ctx, &azservicebus.Message{MessageID: &id, Body: []byte(`{"orderId":"` + id + `","note":"` + strings.Repeat("x", 80) + `"}`)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// The backend takes order-1, abandons it once, takes it again and holds the lock:
	// its second delivery.
	receiver, err := sbClientAs(t, state, "backend").NewReceiverForQueue("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	first, err := receiver.ReceiveMessages(ctx, 1, nil)
	if err != nil || len(first) != 1 || first[0].MessageID != "order-1" {
		t.Fatalf("receive: %v %v", err, first)
	}
	if err := receiver.AbandonMessage(ctx, first[0], nil); err != nil {
		t.Fatal(err)
	}
	again, err := receiver.ReceiveMessages(ctx, 1, nil)
	if err != nil || len(again) != 1 || again[0].MessageID != "order-1" {
		t.Fatalf("receive again: %v %v", err, again)
	}

	code, out, errOut := runLauncher(t, "peek", "orders", "--config", cfg, "--state-dir", state)
	if code != 0 {
		t.Fatalf("peek: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "peeked as workload backend") {
		t.Errorf("peek does not say who peeked: %q", errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "SEQ") {
		t.Fatalf("peek output:\n%s", out)
	}
	row := func(i int) []string { return strings.Fields(lines[i]) }
	// SEQ, MESSAGE ID, DELIVERIES, ENQUEUED, LOCKED UNTIL, BODY
	if r := row(1); r[1] != "order-1" || r[2] != "2" || r[4] == "-" || !strings.HasPrefix(r[5], `"{\"orderId\":\"order-1\"`) || !strings.HasSuffix(r[5], "…") {
		t.Errorf("locked, redelivered message: %q", lines[1])
	}
	// azservicebus counts the delivery a receive would be (header delivery-count + 1),
	// as for a received message: 1 for a message no one has had yet.
	if r := row(2); r[1] != "order-2" || r[2] != "1" || r[4] != "-" {
		t.Errorf("untouched message: %q", lines[2])
	}
	var peeked bool
	for _, a := range st.Access().Recent() {
		if a.Workload == "backend" && a.Service == "servicebus" && a.Resource == "servicebus/orders" && a.Decision == "allowed" {
			peeked = true
		}
	}
	if !peeked {
		t.Errorf("the access log has no allowed backend access to orders")
	}

	// Peeking locked nothing: order-2 is still there for the backend.
	next, err := receiver.ReceiveMessages(ctx, 1, nil)
	if err != nil || len(next) != 1 || next[0].MessageID != "order-2" {
		t.Fatalf("receive after peek: %v %v", err, next)
	}

	// The frontend may not read orders: refused by the broker, as in Azure.
	if code, _, errOut := runLauncher(t, "peek", "orders", "--as", "frontend", "--config", cfg, "--state-dir", state); code != 1 || !strings.Contains(strings.ToLower(errOut), "unauthorized") {
		t.Errorf("peek --as frontend: exit %d\n%s", code, errOut)
	}
	// A subscription is named topic/subscriptions/sub, and peeked as its receiver.
	if code, _, errOut := runLauncher(t, "peek", "order-events/subscriptions/frontend", "--config", cfg, "--state-dir", state); code != 0 || !strings.Contains(errOut, "0 message(s), peeked as workload frontend") {
		t.Errorf("peek subscription: exit %d\n%s", code, errOut)
	}
}

func TestPeekUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"peek"},
		{"peek", "orders", "--max", "0"},
		{"peek", "order-events/frontend"},
		{"peek", "orders", "extra"},
	} {
		if code, _, errOut := runLauncher(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2 (usage)\n%s", args, code, errOut)
		}
	}
}

func TestBodyStart(t *testing.T) {
	for in, want := range map[string]string{
		"short":                 `"short"`,
		"line\nbreak\t":         `"line\nbreak\t"`,
		strings.Repeat("é", 30): `"` + strings.Repeat("é", 24) + `"…`,
		strings.Repeat("a", 49): `"` + strings.Repeat("a", 48) + `"…`,
		"\x00\xff":              `"\x00\xff"`,
	} {
		if got := bodyStart([]byte(in)); got != want {
			t.Errorf("bodyStart(%q) = %s, want %s", in, got, want)
		}
	}
}
