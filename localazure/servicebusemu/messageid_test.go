package servicebusemu

import (
	"regexp"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// TestBrokerAssignsMessageID: a message sent without a message-id gets one from the
// broker, as in Azure, and keeps it (peek and receive agree); one the sender set is
// kept. The JavaScript SDK needs it: its receiver's close throws "Failed to stop auto
// lock renewal - no message ID" while it holds a message without one.
func TestBrokerAssignsMessageID(t *testing.T) {
	tb := startBroker(t, nil)
	c := tb.client(t)
	ctx := ctxT(t, 20*time.Second)
	s, err := c.NewSender("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	own := "mine-1"
	if err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte("no id")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte("own id"), MessageID: &own}, nil); err != nil {
		t.Fatal(err)
	}
	r, err := c.NewReceiverForQueue("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	peeked, err := r.PeekMessages(ctx, 10, nil)
	if err != nil || len(peeked) != 2 {
		t.Fatalf("peek: %d messages, %v", len(peeked), err)
	}
	got, err := r.ReceiveMessages(ctx, 2, nil)
	if err != nil || len(got) != 2 {
		t.Fatalf("receive: %d messages, %v", len(got), err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(got[0].MessageID) {
		t.Errorf("assigned message id = %q, want 32 hex digits", got[0].MessageID)
	}
	if peeked[0].MessageID != got[0].MessageID {
		t.Errorf("message id changed between peek (%q) and receive (%q)", peeked[0].MessageID, got[0].MessageID)
	}
	if got[1].MessageID != own {
		t.Errorf("sender's message id = %q, want %q", got[1].MessageID, own)
	}
	for _, m := range got {
		if err := r.CompleteMessage(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
}
