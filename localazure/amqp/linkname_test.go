package amqp

import (
	"context"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"
)

// TestSenderAndReceiverShareAName: link names are unique per direction (AMQP 1.0
// section 2.6.1), and Qpid Proton names both of its links to a node
// "<container-id>-<address>": a receiver must not steal the sender of the same
// name.
func TestSenderAndReceiverShareAName(t *testing.T) {
	b := newMemBroker()
	addr := serveMem(t, b, 0)
	_, s := dialGo(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snd, err := s.NewSender(ctx, "q", &goamqp.SenderOptions{Name: "client-q"})
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := s.NewReceiver(ctx, "q", &goamqp.ReceiverOptions{Name: "client-q", Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Send(ctx, goamqp.NewMessage([]byte("both links live")), nil); err != nil {
		t.Fatalf("send on the sender named like the receiver: %v", err)
	}
	m, err := rcv.Receive(ctx, nil)
	if err != nil || string(m.GetData()) != "both links live" {
		t.Fatalf("receive: %v %v", m, err)
	}
	if err := rcv.AcceptMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
}

// TestSecondAttachOfANameStealsTheLink: the same name in the same direction on a
// session takes the link over; the first is detached with amqp:link:stolen.
func TestSecondAttachOfANameStealsTheLink(t *testing.T) {
	addr := serveMem(t, newMemBroker(), 0)
	nc := rawOpen(t, addr)
	write := func(body any) {
		f, err := AppendFrame(nil, FrameAMQP, 0, body, nil)
		if err != nil {
			t.Fatal(err)
		}
		nc.Write(f)
	}
	write(&Begin{NextOutgoingID: 0, IncomingWindow: 100, OutgoingWindow: 100, HandleMax: 10})
	write(&Attach{Name: "twice", Handle: 0, Role: RoleSender, Source: &Source{Address: "me"}, Target: &Target{Address: "q"}})
	write(&Attach{Name: "twice", Handle: 1, Role: RoleSender, Source: &Source{Address: "me"}, Target: &Target{Address: "q"}})
	for {
		if d, ok := readBody(t, nc).(*Detach); ok {
			if d.Handle != 0 || d.Error == nil || d.Error.Condition != ErrLinkStolen {
				t.Fatalf("detach %+v, want handle 0 stolen", d)
			}
			return
		}
	}
}
