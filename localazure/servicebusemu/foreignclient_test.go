package servicebusemu

import (
	"errors"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"github.com/contoso/orderflow/localazure/amqp"
)

// These tests send, frame by frame, what clients on other AMQP stacks send. The
// patterns were read from the clients' public sources and traces:
//   - Python azure-servicebus 7.8 over uamqp (the Azure uAMQP C library,
//     cbs.c / message_sender.c): a $cbs sender and a receiver both addressed
//     "$cbs", a put-token with message-id 0 and no reply-to, a sender that asks
//     rcv-settle-mode second and waits for a settled disposition, the session
//     filter as a plain string (set_filter with descriptor=None);
//   - .NET Microsoft.Azure.Amqp (FilterSet with a string or null session id,
//     RequestResponseAmqpLink, which matches a response with a request it has
//     seen settled);
//   - Java proton-j / azure-core-amqp (RequestResponseChannel: the same settled-
//     before-response expectation).

// cbsLinks attaches uamqp's pair of $cbs links on channel ch, with handles h and
// h+1, and gives the reply link credit.
func (p *rawPeer) cbsLinks(ch uint16, h uint32) {
	p.t.Helper()
	p.send(ch, &amqp.Attach{Name: "$cbs-sender", Handle: h, Role: amqp.RoleSender, SndSettleMode: u8(0), RcvSettleMode: u8(0),
		Source: &amqp.Source{Address: "$cbs"}, Target: &amqp.Target{Address: "$cbs"}}, nil)
	p.send(ch, &amqp.Attach{Name: "$cbs-receiver", Handle: h + 1, Role: amqp.RoleReceiver, SndSettleMode: u8(0), RcvSettleMode: u8(0),
		Source: &amqp.Source{Address: "$cbs"}, Target: &amqp.Target{Address: "$cbs"}}, nil)
	attached := 0
	p.until(func(c uint16, b any) bool {
		if a, ok := b.(*amqp.Attach); ok && c == ch {
			attached++
			if a.Source == nil || a.Target == nil {
				p.t.Fatalf("$cbs attach %q refused", a.Name)
			}
		}
		return attached == 2
	})
	p.send(ch, &amqp.Flow{NextIncomingID: u32(0), IncomingWindow: 65536, NextOutgoingID: 0, OutgoingWindow: 65535,
		Handle: u32(h + 1), DeliveryCount: u32(0), LinkCredit: u32(10000)}, nil)
}

// request sends one request transfer on handle h (delivery id id) and returns
// the frames up to the response transfer, which it decodes.
func (p *rawPeer) request(ch uint16, h, id uint32, m *amqp.Message) ([]any, *amqp.Message) {
	p.t.Helper()
	p.send(ch, &amqp.Transfer{Handle: h, DeliveryID: u32(id), DeliveryTag: []byte{byte(id), 0, 0, 0}, MessageFormat: u32(0),
		Settled: boolp(false)}, encode(p.t, m))
	var resp *amqp.Transfer
	seen := p.until(func(c uint16, b any) bool {
		tr, ok := b.(*amqp.Transfer)
		if ok && c == ch {
			resp = tr
		}
		return resp != nil
	})
	return seen, decodeTransfer(p.t, resp)
}

// settledBefore checks that the request's disposition (accepted, settled) came
// before the response, as the AMQP management pattern's clients require.
func settledBefore(t *testing.T, seen []any, id uint32) {
	t.Helper()
	for _, b := range seen {
		if d, ok := b.(*amqp.Disposition); ok && d.Role == amqp.RoleReceiver && d.First <= id && (d.Last == nil && d.First == id || d.Last != nil && *d.Last >= id) {
			if !d.Settled {
				t.Fatalf("the request's disposition is not settled: %+v", d)
			}
			if _, ok := d.State.(*amqp.Accepted); !ok {
				t.Fatalf("the request's disposition is %T, want accepted", d.State)
			}
			return
		}
	}
	t.Fatalf("the response came before the request was settled: %v", seen)
}

func putTokenMessage(token, audience string, messageID any, replyTo string) *amqp.Message {
	m := &amqp.Message{Value: token, HasValue: true, Properties: &amqp.Properties{MessageID: messageID, ReplyTo: replyTo},
		ApplicationProperties: map[string]any{"operation": "put-token", "type": "servicebus.windows.net:sastoken", "name": audience}}
	return m
}

func statusCode(t *testing.T, m *amqp.Message, key string) int32 {
	t.Helper()
	code, ok := m.ApplicationProperties[key].(int32)
	if !ok {
		t.Fatalf("%s is %T (%v), want an int", key, m.ApplicationProperties[key], m.ApplicationProperties)
	}
	return code
}

// TestPutTokenWithoutReplyTo: uamqp's put-token names no reply-to; the response
// goes to the requester's $cbs receiving link on the same session, after the
// request was settled. A second session's request is answered on its own session.
func TestPutTokenWithoutReplyTo(t *testing.T) {
	tb := startBroker(t, nil)
	p := dialRaw(t, tb.addr)
	p.begin(0)
	p.begin(1)
	p.cbsLinks(0, 0)
	p.cbsLinks(1, 0)
	aud := "sb://" + tb.ns + "/orders"
	tok := sasToken(aud, "RootManageSharedAccessKey", EmulatorKey, time.Now().Add(time.Hour))
	for _, ch := range []uint16{1, 0} {
		seen, resp := p.request(ch, 0, 0, putTokenMessage(tok, aud, uint64(0), ""))
		settledBefore(t, seen, 0)
		if code := statusCode(t, resp, "status-code"); code != 202 {
			t.Fatalf("session %d: put-token status %d (%v)", ch, code, resp.ApplicationProperties["status-description"])
		}
		if resp.Properties == nil || resp.Properties.CorrelationID != uint64(0) {
			t.Fatalf("session %d: response correlation %+v, want the request's message-id 0", ch, resp.Properties)
		}
	}
	// A reply-to that names no link of this connection falls back to the session's link too.
	_, resp := p.request(0, 0, 1, putTokenMessage(tok, aud, "id-2", "no-such-link"))
	if code := statusCode(t, resp, "status-code"); code != 202 || resp.Properties.CorrelationID != "id-2" {
		t.Fatalf("put-token with an unknown reply-to: %d %+v", code, resp.Properties)
	}
}

// TestManagementRequestSettledBeforeResponse: a $management request without
// reply-to, answered on the session's receiving link from the node, and only
// after the request's disposition.
func TestManagementRequestSettledBeforeResponse(t *testing.T) {
	tb := startBroker(t, nil)
	send(t, tb.client(t), "orders", body("peek me"))
	p := dialRaw(t, tb.addr)
	p.begin(0)
	p.cbsLinks(0, 0)
	aud := "sb://" + tb.ns + "/orders"
	tok := sasToken(aud, "RootManageSharedAccessKey", EmulatorKey, time.Now().Add(time.Hour))
	if _, resp := p.request(0, 0, 0, putTokenMessage(tok, aud, uint64(0), "")); statusCode(t, resp, "status-code") != 202 {
		t.Fatal("put-token refused")
	}
	p.send(0, &amqp.Attach{Name: "mgmt-sender", Handle: 2, Role: amqp.RoleSender, SndSettleMode: u8(0), RcvSettleMode: u8(0),
		Source: &amqp.Source{Address: "mgmt-client"}, Target: &amqp.Target{Address: "orders/$management"}}, nil)
	p.send(0, &amqp.Attach{Name: "mgmt-receiver", Handle: 3, Role: amqp.RoleReceiver, SndSettleMode: u8(0), RcvSettleMode: u8(0),
		Source: &amqp.Source{Address: "orders/$management"}, Target: &amqp.Target{Address: "mgmt-client"}}, nil)
	attached := 0
	p.until(func(_ uint16, b any) bool {
		if _, ok := b.(*amqp.Attach); ok {
			attached++
		}
		return attached == 2
	})
	p.send(0, &amqp.Flow{NextIncomingID: u32(1), IncomingWindow: 65536, NextOutgoingID: 1, OutgoingWindow: 65535,
		Handle: u32(3), DeliveryCount: u32(0), LinkCredit: u32(10)}, nil)
	req := &amqp.Message{HasValue: true, Value: map[any]any{"from-sequence-number": int64(1), "message-count": int32(10)},
		Properties:            &amqp.Properties{MessageID: "peek-1"},
		ApplicationProperties: map[string]any{"operation": "com.microsoft:peek-message"}}
	seen, resp := p.request(0, 2, 1, req)
	settledBefore(t, seen, 1)
	if code := statusCode(t, resp, "statusCode"); code != 200 {
		t.Fatalf("peek status %d: %v", code, resp.ApplicationProperties)
	}
	if resp.Properties == nil || resp.Properties.CorrelationID != "peek-1" {
		t.Fatalf("correlation %+v", resp.Properties)
	}
	msgs, _ := resp.Value.(map[any]any)["messages"].([]any)
	if len(msgs) != 1 {
		t.Fatalf("peeked %v", resp.Value)
	}
}

// TestSenderAskingReceiverSettleSecond: uamqp's message sender attaches with
// snd-settle-mode unsettled and rcv-settle-mode second, and counts a message as
// sent only on a settled disposition. Service Bus answers with first and settles
// (AMQP 1.0 section 2.7.3: the receiver's attach states the mode in use).
func TestSenderAskingReceiverSettleSecond(t *testing.T) {
	tb := startBroker(t, nil)
	p := dialRaw(t, tb.addr)
	p.begin(0)
	p.cbsLinks(0, 0)
	aud := "sb://" + tb.ns + "/orders"
	tok := sasToken(aud, "RootManageSharedAccessKey", EmulatorKey, time.Now().Add(time.Hour))
	if _, resp := p.request(0, 0, 0, putTokenMessage(tok, aud, uint64(0), "")); statusCode(t, resp, "status-code") != 202 {
		t.Fatal("put-token refused")
	}
	p.send(0, &amqp.Attach{Name: "sender-link-1", Handle: 2, Role: amqp.RoleSender, SndSettleMode: u8(0), RcvSettleMode: u8(1),
		Source: &amqp.Source{Address: "SBSender-1"}, Target: &amqp.Target{Address: "amqps://127.0.0.1/orders"}, MaxMessageSize: 1 << 20}, nil)
	var answer *amqp.Attach
	p.until(func(_ uint16, b any) bool { answer, _ = b.(*amqp.Attach); return answer != nil })
	if answer.Target == nil || answer.RcvSettleMode == nil || *answer.RcvSettleMode != amqp.RcvFirst {
		t.Fatalf("attach answered %+v, want rcv-settle-mode first", answer)
	}
	msg := &amqp.Message{Data: [][]byte{[]byte("from uamqp")}, Properties: &amqp.Properties{MessageID: "m-1"}}
	for id := uint32(1); id <= 3; id++ {
		p.send(0, &amqp.Transfer{Handle: 2, DeliveryID: u32(id), DeliveryTag: []byte{byte(id)}, MessageFormat: u32(0), Settled: boolp(false)}, encode(t, msg))
	}
	settled := map[uint32]bool{}
	p.until(func(_ uint16, b any) bool {
		if d, ok := b.(*amqp.Disposition); ok && d.Role == amqp.RoleReceiver {
			if !d.Settled {
				t.Fatalf("unsettled disposition %+v: the sender would wait for ever", d)
			}
			if _, ok := d.State.(*amqp.Accepted); !ok {
				t.Fatalf("disposition state %T", d.State)
			}
			last := d.First
			if d.Last != nil {
				last = *d.Last
			}
			for id := d.First; id <= last; id++ {
				settled[id] = true
			}
		}
		return settled[1] && settled[2] && settled[3]
	})
	if n, _ := tb.MessageCount("orders"); n != 3 {
		t.Fatalf("orders holds %d, want 3", n)
	}
	// azservicebus (rcv-settle-mode first) is unaffected: it still sends.
	send(t, tb.client(t), "orders", body("from go"))
}

// sessionReceiver attaches a receiver for the session queue with filter value v
// (under the symbol key) and returns the attach's answer.
func (p *rawPeer) sessionReceiver(h uint32, v any) *amqp.Attach {
	p.t.Helper()
	p.send(0, &amqp.Attach{Name: "session-receiver-" + string(rune('a'+h)), Handle: h, Role: amqp.RoleReceiver,
		SndSettleMode: u8(0), RcvSettleMode: u8(1),
		Source:     &amqp.Source{Address: "sessions", Filter: map[any]any{sessionFilterName: v}},
		Target:     &amqp.Target{Address: "receiver"},
		Properties: map[any]any{propTimeout: uint32(2000)}}, nil)
	var answer *amqp.Attach
	p.until(func(_ uint16, b any) bool { answer, _ = b.(*amqp.Attach); return answer != nil })
	if answer.Source == nil {
		p.t.Fatalf("session receiver refused: %+v", answer)
	}
	return answer
}

// TestSessionFilterSpellings: the .NET client (FilterSet with a string) and
// uamqp send the session id as a plain string, the Go client as a described
// value, and a null asks for the next available session; each gets the session
// it asked for, named in the answer the way it asked.
func TestSessionFilterSpellings(t *testing.T) {
	tb := startBroker(t, withSessionQueue)
	c := tb.client(t)
	send(t, c, "sessions", sessionMsg("s2", "two"), sessionMsg("s1", "one"), sessionMsg("s3", "three"))
	p := dialRaw(t, tb.addr)
	p.begin(0)
	p.cbsLinks(0, 0)
	aud := "sb://" + tb.ns + "/sessions"
	tok := sasToken(aud, "RootManageSharedAccessKey", EmulatorKey, time.Now().Add(time.Hour))
	if _, resp := p.request(0, 0, 0, putTokenMessage(tok, aud, uint64(0), "")); statusCode(t, resp, "status-code") != 202 {
		t.Fatal("put-token refused")
	}
	receiveOne := func(h uint32) string {
		p.send(0, &amqp.Flow{NextIncomingID: u32(1), IncomingWindow: 65536, NextOutgoingID: 1, OutgoingWindow: 65535,
			Handle: u32(h), DeliveryCount: u32(0), LinkCredit: u32(10)}, nil)
		var tr *amqp.Transfer
		p.until(func(_ uint16, b any) bool { tr, _ = b.(*amqp.Transfer); return tr != nil && tr.Handle == h })
		m := decodeTransfer(t, tr)
		if len(m.Data) != 1 {
			t.Fatalf("message without its body: %+v", m)
		}
		return string(m.Data[0])
	}
	// Plain string: s1, although s2 has the oldest message.
	a := p.sessionReceiver(2, "s1")
	if got := a.Source.Filter[sessionFilterName]; got != "s1" {
		t.Fatalf("answer's filter %#v, want the plain string s1", got)
	}
	if got := receiveOne(2); got != "one" {
		t.Fatalf("session s1 receiver got %q", got)
	}
	// Null: the next available session, s2 (the oldest message), named plainly.
	a = p.sessionReceiver(3, nil)
	if got := a.Source.Filter[sessionFilterName]; got != "s2" {
		t.Fatalf("next-available answer's filter %#v, want s2", got)
	}
	if got := receiveOne(3); got != "two" {
		t.Fatalf("next-available receiver got %q", got)
	}
	// Described with the symbol as descriptor: s3, answered described.
	a = p.sessionReceiver(4, &amqp.Described{Descriptor: sessionFilterName, Value: "s3"})
	if d, ok := a.Source.Filter[sessionFilterName].(*amqp.Described); !ok || d.Value != "s3" || d.Descriptor != sessionFilterName {
		t.Fatalf("described answer %#v", a.Source.Filter[sessionFilterName])
	}
	if got := receiveOne(4); got != "three" {
		t.Fatalf("session s3 receiver got %q", got)
	}
	// A session id that is not a string is refused, not taken for "any session".
	p.send(0, &amqp.Attach{Name: "bad-filter", Handle: 5, Role: amqp.RoleReceiver,
		Source: &amqp.Source{Address: "sessions", Filter: map[any]any{sessionFilterName: int64(7)}}, Target: &amqp.Target{}}, nil)
	var det *amqp.Detach
	p.until(func(_ uint16, b any) bool { det, _ = b.(*amqp.Detach); return det != nil })
	if det.Error == nil || det.Error.Condition != amqp.ErrInvalidField {
		t.Fatalf("bad session filter: detach %+v", det)
	}
}

// TestTokenExpiryFromTheToken: a JWT's grant ends at its exp, not at the
// put-token's expiration property (which uamqp leaves out and others compute on
// their own); an expired JWT is refused at put-token.
func TestTokenExpiryFromTheToken(t *testing.T) {
	tb := startBroker(t, nil)
	ctx := ctxT(t, 20*time.Second)
	s := dialBroker(t, tb)
	aud := "amqps://" + tb.ns + "/orders"
	put := func(token string, expiration any) int32 {
		snd, err := s.NewSender(ctx, "$cbs", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer snd.Close(ctx)
		replyTo := "jwt-reply-" + time.Now().Format("150405.000000000")
		rcv, err := s.NewReceiver(ctx, "$cbs", &goamqp.ReceiverOptions{Name: replyTo})
		if err != nil {
			t.Fatal(err)
		}
		defer rcv.Close(ctx)
		props := map[string]any{"operation": "put-token", "type": "jwt", "name": aud}
		if expiration != nil {
			props["expiration"] = expiration
		}
		if err := snd.Send(ctx, &goamqp.Message{Value: token, Properties: &goamqp.MessageProperties{MessageID: replyTo, ReplyTo: &replyTo},
			ApplicationProperties: props}, nil); err != nil {
			t.Fatal(err)
		}
		resp, err := rcv.Receive(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		rcv.AcceptMessage(ctx, resp)
		return resp.ApplicationProperties["status-code"].(int32)
	}
	// Expired a minute ago: within the verifier's clock skew, but expired all the same.
	if code := put(tb.issuer.Token("owner", "https://servicebus.azure.net", -time.Minute), nil); code != 401 {
		t.Fatalf("expired JWT: put-token status %d, want 401", code)
	}
	// Valid for 2 s, with an expiration property claiming an hour.
	if code := put(tb.issuer.Token("owner", "https://servicebus.azure.net", 2*time.Second), time.Now().Add(time.Hour).Unix()); code != 202 {
		t.Fatalf("JWT: put-token status %d", code)
	}
	if _, err := s.NewSender(ctx, "orders", nil); err != nil {
		t.Fatalf("sender while the token is valid: %v", err)
	}
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(3 * time.Second)))
	_, err := s.NewSender(ctx, "orders", nil)
	var ae *goamqp.Error
	if !errors.As(err, &ae) || ae.Condition != goamqp.ErrCondUnauthorizedAccess {
		t.Fatalf("sender after the token's exp: %v, want unauthorized-access", err)
	}
}
