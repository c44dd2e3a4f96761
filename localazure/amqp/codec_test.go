package amqp

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"
)

func TestValueRoundTrip(t *testing.T) {
	now := time.UnixMilli(time.Now().UnixMilli()).UTC()
	values := []any{
		nil, true, false, uint8(7), int8(-7), uint16(300), int16(-300), uint32(0), uint32(200), uint32(70000),
		uint64(0), uint64(9), uint64(1 << 40), int32(-5), int32(1 << 20), int64(-5), int64(1 << 40),
		float32(1.5), 2.25, Char('x'), now, UUID{1, 2, 3}, []byte("bin"), "str", Symbol("sym"),
		[]any{"a", int64(1), []any{true}}, map[any]any{"k": "v", Symbol("s"): int32(1)},
		[]Symbol{"a", "b"}, []int64{1, 2}, []time.Time{now}, []UUID{{9}}, [][]byte{[]byte("x")}, []string{"p"},
		&Described{Descriptor: Symbol("x:y"), Value: "v"}, &Error{Condition: ErrNotFound, Description: "d"},
		string(bytes.Repeat([]byte("z"), 300)),
	}
	for _, v := range values {
		b, err := Marshal(v)
		if err != nil {
			t.Fatalf("marshal %T: %v", v, err)
		}
		got, n, err := Unmarshal(b)
		if err != nil || n != len(b) {
			t.Fatalf("unmarshal %T: %v (%d of %d)", v, err, n, len(b))
		}
		if e, ok := v.(*Error); ok {
			if g := got.(*Error); g.Condition != e.Condition || g.Description != e.Description {
				t.Fatalf("error round trip %+v", g)
			}
			continue
		}
		if !reflect.DeepEqual(got, v) {
			t.Fatalf("round trip of %T: got %#v want %#v", v, got, v)
		}
	}
}

// TestMessageInteropWithGoAMQP checks messages encoded by go-amqp decode here,
// and what is re-encoded here decodes in go-amqp.
func TestMessageInteropWithGoAMQP(t *testing.T) {
	ttl := 90 * time.Second
	id := "msg-1"
	now := time.UnixMilli(time.Now().UnixMilli()).UTC()
	src := &goamqp.Message{
		Header:                &goamqp.MessageHeader{Durable: true, TTL: ttl, DeliveryCount: 2},
		Annotations:           goamqp.Annotations{"x-opt-a": "b", "x-opt-t": now},
		Properties:            &goamqp.MessageProperties{MessageID: id, To: ptr("to"), Subject: ptr("subj"), CorrelationID: goamqp.UUID{1}, ContentType: ptr("application/json"), GroupID: ptr("g")},
		ApplicationProperties: map[string]any{"n": int64(3), "s": "x", "f": 1.5, "b": true},
		Data:                  [][]byte{[]byte("hello"), []byte("world")},
	}
	raw, err := src.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var m Message
	if err := m.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	if m.Header == nil || !m.Header.Durable || *m.Header.TTL != 90000 || m.Header.DeliveryCount != 2 {
		t.Fatalf("header %+v", m.Header)
	}
	if m.Properties.MessageID != "msg-1" || m.Properties.Subject != "subj" || m.Properties.ContentType != "application/json" || m.Properties.GroupID != "g" {
		t.Fatalf("properties %+v", m.Properties)
	}
	if m.ApplicationProperties["n"] != int64(3) || len(m.Data) != 2 || string(m.Data[1]) != "world" {
		t.Fatalf("app props %v data %q", m.ApplicationProperties, m.Data)
	}
	// Re-annotate and re-encode as a broker does.
	m.Annotations[Symbol("x-opt-sequence-number")] = int64(42)
	m.Header.DeliveryCount = 5
	m.ApplicationProperties["added"] = "yes"
	m.TouchApplicationProperties()
	out, err := m.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	var back goamqp.Message
	if err := back.UnmarshalBinary(out); err != nil {
		t.Fatalf("go-amqp decoding our encoding: %v", err)
	}
	if back.Annotations["x-opt-sequence-number"] != int64(42) || back.Header.DeliveryCount != 5 || back.ApplicationProperties["added"] != "yes" ||
		string(back.Data[0]) != "hello" || back.Properties.MessageID != "msg-1" || !back.Annotations["x-opt-t"].(time.Time).Equal(now) {
		t.Fatalf("go-amqp saw %+v %+v %+v", back.Header, back.Annotations, back.ApplicationProperties)
	}
	// An amqp-value message (what $cbs and $management use).
	v := &Message{Properties: &Properties{MessageID: "r", ReplyTo: "x"}, ApplicationProperties: map[string]any{"operation": "put-token"},
		Value: map[string]any{"lock-tokens": []UUID{{1}}, "expirations": []time.Time{now}}, HasValue: true}
	enc, err := v.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	var gv goamqp.Message
	if err := gv.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	mv := gv.Value.(map[string]any)
	if _, ok := mv["expirations"].([]time.Time); !ok {
		t.Fatalf("expirations decoded as %T", mv["expirations"])
	}
	if _, ok := mv["lock-tokens"].([]goamqp.UUID); !ok {
		t.Fatalf("lock-tokens decoded as %T", mv["lock-tokens"])
	}
}

func ptr[T any](v T) *T { return &v }

// seedFrames are real frames as this package writes them and go-amqp accepts.
func seedFrames(t testing.TB) [][]byte {
	var seeds [][]byte
	add := func(body any, payload []byte) {
		b, err := AppendFrame(nil, FrameAMQP, 1, body, payload)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	id, cr := uint32(3), uint32(100)
	snd, rcv := SndMixed, RcvSecond
	msg := &Message{Header: &Header{DeliveryCount: 1}, Properties: &Properties{MessageID: "m"}, Data: [][]byte{[]byte("body")}}
	payload, _ := msg.AppendBinary(nil)
	add(&Open{ContainerID: "c", MaxFrameSize: 65536, ChannelMax: 10, IdleTimeout: time.Minute}, nil)
	add(&Begin{NextOutgoingID: 0, IncomingWindow: 5000, OutgoingWindow: 5000, HandleMax: 10}, nil)
	add(&Attach{Name: "l", Handle: 0, Role: RoleReceiver, SndSettleMode: &snd, RcvSettleMode: &rcv,
		Source: &Source{Address: "q", Filter: map[any]any{Symbol("f"): "x"}}, Target: &Target{Address: "t"}, MaxMessageSize: 262144}, nil)
	add(&Flow{NextIncomingID: &id, IncomingWindow: 10, NextOutgoingID: 1, OutgoingWindow: 10, Handle: &id, DeliveryCount: &id, LinkCredit: &cr, Drain: true}, nil)
	add(&Transfer{Handle: 0, DeliveryID: &id, DeliveryTag: []byte{1, 2}, MessageFormat: &cr}, payload)
	add(&Disposition{Role: RoleReceiver, First: 1, Last: &id, Settled: true, State: &Rejected{Error: &Error{Condition: "com.microsoft:dead-letter", Info: map[any]any{"DeadLetterReason": "r"}}}}, nil)
	add(&Disposition{Role: RoleReceiver, First: 1, State: &Modified{DeliveryFailed: true, MessageAnnotations: map[any]any{Symbol("a"): int64(1)}}}, nil)
	add(&Detach{Handle: 0, Closed: true, Error: &Error{Condition: ErrNotFound, Description: "x"}}, nil)
	add(&End{}, nil)
	add(&Close{Error: &Error{Condition: ErrDecode}}, nil)
	// go-amqp's own encoding of a message with every section.
	gm := &goamqp.Message{Header: &goamqp.MessageHeader{Durable: true}, Annotations: goamqp.Annotations{"x": int32(1)},
		Properties: &goamqp.MessageProperties{MessageID: uint64(9)}, ApplicationProperties: map[string]any{"a": []any{"b"}}, Value: map[string]any{"k": []int64{1}}}
	if gb, err := gm.MarshalBinary(); err == nil {
		add(&Transfer{Handle: 1, DeliveryID: &id, DeliveryTag: []byte{9}, MessageFormat: new(uint32)}, gb)
	}
	return seeds
}

func TestSeedFramesDecode(t *testing.T) {
	for i, f := range seedFrames(t) {
		if _, _, body, err := ReadFrame(f); err != nil || body == nil {
			t.Fatalf("seed %d: %v", i, err)
		}
	}
}

// FuzzDecodeFrame feeds arbitrary bytes to the frame decoder, and the payload
// of transfers to the message decoder: neither may panic, and whatever decodes
// must re-encode.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range seedFrames(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= 4 {
			// Make the size field agree often enough to get past the header check.
			b = append([]byte(nil), b...)
			b[0], b[1], b[2], b[3] = byte(len(b)>>24), byte(len(b)>>16), byte(len(b)>>8), byte(len(b))
		}
		_, ch, body, err := ReadFrame(b)
		if err != nil || body == nil {
			return
		}
		if tr, ok := body.(*Transfer); ok {
			var m Message
			if m.Unmarshal(tr.Payload) == nil {
				if _, err := m.AppendBinary(nil); err != nil {
					t.Fatalf("re-encoding a decoded message: %v", err)
				}
			}
			tr.Payload = nil
		}
		if _, err := AppendFrame(nil, FrameAMQP, ch, body, nil); err != nil {
			t.Fatalf("re-encoding a decoded %T: %v", body, err)
		}
	})
}

// FuzzUnmarshal feeds arbitrary bytes to the value decoder.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range seedFrames(f) {
		f.Add(s[8:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, _, err := Unmarshal(b)
		if err != nil {
			return
		}
		if _, err := Marshal(v); err != nil {
			t.Fatalf("re-encoding %T: %v", v, err)
		}
	})
}
