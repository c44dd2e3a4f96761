package amqp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"
)

// memBroker is a minimal broker for protocol tests: one FIFO per address.
type memBroker struct {
	mu      sync.Mutex
	queues  map[string][][]byte
	readers map[string][]*Link
	maxSize uint64
}

func newMemBroker() *memBroker {
	return &memBroker{queues: map[string][][]byte{}, readers: map[string][]*Link{}}
}

type memHandler struct{ b *memBroker }

func (h memHandler) Attach(l *Link) *Error {
	if l.Role == RoleReceiver {
		if l.Target.Address == "forbidden" {
			return &Error{Condition: ErrUnauthorized, Description: "no"}
		}
		l.MaxMessageSize = h.b.maxSize
		return nil
	}
	h.b.mu.Lock()
	h.b.readers[l.Source.Address] = append(h.b.readers[l.Source.Address], l)
	h.b.mu.Unlock()
	return nil
}

func (h memHandler) pump(addr string) {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	for _, l := range h.b.readers[addr] {
		for l.Available() > 0 && len(h.b.queues[addr]) > 0 {
			p := h.b.queues[addr][0]
			h.b.queues[addr] = h.b.queues[addr][1:]
			_ = l.Send(&OutDelivery{Tag: []byte{1}, Payload: p})
		}
	}
}

func (h memHandler) Flow(l *Link) { h.pump(l.Source.Address) }

func (h memHandler) Message(l *Link, d *Delivery) DeliveryState {
	h.b.mu.Lock()
	h.b.queues[l.Target.Address] = append(h.b.queues[l.Target.Address], append([]byte(nil), d.Payload...))
	h.b.mu.Unlock()
	h.pump(l.Target.Address)
	return &Accepted{}
}

func (h memHandler) Disposition(l *Link, d *OutDelivery, s DeliveryState, settled bool) DeliveryState {
	return &Accepted{}
}

func (h memHandler) Detached(l *Link, unsent []*OutDelivery) {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	if l.Role == RoleSender {
		rs := h.b.readers[l.Source.Address]
		for i, x := range rs {
			if x == l {
				h.b.readers[l.Source.Address] = append(rs[:i], rs[i+1:]...)
				break
			}
		}
	}
}

func (h memHandler) Closed(error) {}

func serveMem(t testing.TB, b *memBroker, idle time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go ServeConn(nc, Config{ContainerID: "test", IdleTimeout: idle, Handler: func(*Conn) ConnHandler { return memHandler{b} }})
		}
	}()
	return ln.Addr().String()
}

func dialGo(t testing.TB, addr string) (*goamqp.Conn, *goamqp.Session) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := goamqp.Dial(ctx, "amqp://"+addr, &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := c.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

func TestGoAMQPSendReceiveMultiFrame(t *testing.T) {
	b := newMemBroker()
	addr := serveMem(t, b, 0)
	_, s := dialGo(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snd, err := s.NewSender(ctx, "q", nil)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("abcdefgh"), 40_000) // 320 KB: several frames each way
	for i := range 20 {
		data := []byte{byte(i)}
		if i == 7 {
			data = big
		}
		if err := snd.Send(ctx, goamqp.NewMessage(data), nil); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	rcv, err := s.NewReceiver(ctx, "q", &goamqp.ReceiverOptions{Credit: 5})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		m, err := rcv.Receive(ctx, nil)
		if err != nil {
			t.Fatalf("receive %d: %v", i, err)
		}
		if i == 7 && !bytes.Equal(m.GetData(), big) {
			t.Fatalf("big message came back with %d bytes", len(m.GetData()))
		} else if i != 7 && m.GetData()[0] != byte(i) {
			t.Fatalf("message %d out of order: %v", i, m.GetData())
		}
		if err := rcv.AcceptMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDrain(t *testing.T) {
	b := newMemBroker()
	addr := serveMem(t, b, 0)
	_, s := dialGo(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snd, _ := s.NewSender(ctx, "d", nil)
	for i := range 3 {
		if err := snd.Send(ctx, goamqp.NewMessage([]byte{byte(i)}), nil); err != nil {
			t.Fatal(err)
		}
	}
	rcv, err := s.NewReceiver(ctx, "d", &goamqp.ReceiverOptions{Credit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := rcv.IssueCredit(10); err != nil {
		t.Fatal(err)
	}
	// Once the credit is out (the first message proves it), draining 10 credits
	// with 3 messages delivers them and completes instead of hanging.
	first, err := rcv.Receive(ctx, nil)
	if err != nil || first.GetData()[0] != 0 {
		t.Fatalf("first: %v", err)
	}
	rcv.AcceptMessage(ctx, first)
	if err := rcv.DrainCredit(ctx, nil); err != nil {
		t.Fatalf("drain: %v", err)
	}
	for i := 1; i < 3; i++ {
		m, err := rcv.Receive(ctx, nil)
		if err != nil || m.GetData()[0] != byte(i) {
			t.Fatalf("receive %d: %v", i, err)
		}
		rcv.AcceptMessage(ctx, m)
	}
	// A second drain with nothing queued completes too.
	if err := rcv.IssueCredit(5); err != nil {
		t.Fatal(err)
	}
	if err := rcv.DrainCredit(ctx, nil); err != nil {
		t.Fatalf("empty drain: %v", err)
	}
}

func TestRefusedAttachAndMessageSize(t *testing.T) {
	b := newMemBroker()
	b.maxSize = 1000
	addr := serveMem(t, b, 0)
	_, s := dialGo(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.NewSender(ctx, "forbidden", nil)
	var ae *goamqp.Error
	if !errors.As(err, &ae) || ae.Condition != goamqp.ErrCondUnauthorizedAccess {
		t.Fatalf("refused attach: %v", err)
	}
	snd, err := s.NewSender(ctx, "q", nil)
	if err != nil {
		t.Fatal(err)
	}
	if snd.MaxMessageSize() != 1000 {
		t.Fatalf("max message size %d", snd.MaxMessageSize())
	}
	if err := snd.Send(ctx, goamqp.NewMessage(make([]byte, 100)), nil); err != nil {
		t.Fatal(err)
	}
}

// rawConn speaks the protocol by hand, for malformed input.
func rawOpen(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	nc.Write(amqpHeader)
	open, _ := AppendFrame(nil, FrameAMQP, 0, &Open{ContainerID: "raw", MaxFrameSize: 65536, ChannelMax: 10}, nil)
	nc.Write(open)
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(nc, hdr); err != nil || !bytes.Equal(hdr, amqpHeader) {
		t.Fatalf("header: %v %q", err, hdr)
	}
	if _, body := readRaw(t, nc); body == nil {
		t.Fatal("no open")
	}
	return nc
}

func readRaw(t *testing.T, nc net.Conn) (uint16, any) {
	t.Helper()
	var hdr [8]byte
	if _, err := io.ReadFull(nc, hdr[:]); err != nil {
		t.Fatalf("reading frame: %v", err)
	}
	buf := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	copy(buf, hdr[:])
	if _, err := io.ReadFull(nc, buf[8:]); err != nil {
		t.Fatal(err)
	}
	_, ch, body, err := ReadFrame(buf)
	if err != nil {
		t.Fatalf("decoding server frame: %v", err)
	}
	return ch, body
}

// expectClose reads until a close arrives and checks its condition, then EOF.
func expectClose(t *testing.T, nc net.Conn, cond Symbol) {
	t.Helper()
	for {
		_, body := readRaw(t, nc)
		if c, ok := body.(*Close); ok {
			if c.Error == nil || c.Error.Condition != cond {
				t.Fatalf("close error %v, want %s", c.Error, cond)
			}
			break
		}
	}
	if _, err := nc.Read(make([]byte, 1)); err == nil {
		t.Fatal("socket still open after close")
	}
}

func TestMalformedFramesCloseConnection(t *testing.T) {
	b := newMemBroker()
	addr := serveMem(t, b, 0)
	cases := map[string]struct {
		frame []byte
		cond  Symbol
	}{
		"garbage body":   {[]byte{0, 0, 0, 12, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, ErrDecode},
		"too big":        {[]byte{0x7f, 0, 0, 0, 2, 0, 0, 0}, ErrConnFraming},
		"bad doff":       {[]byte{0, 0, 0, 8, 1, 0, 0, 0}, ErrConnFraming},
		"truncated list": {[]byte{0, 0, 0, 14, 2, 0, 0, 0, 0x00, 0x53, 0x11, 0xc0, 0x10, 0x05}, ErrDecode},
		"not a perf":     {[]byte{0, 0, 0, 10, 2, 0, 0, 0, 0x41, 0x41}, ErrDecode},
		"nested deep":    {append([]byte{0, 0, 0, 8 + 200, 2, 0, 0, 0}, bytes.Repeat([]byte{0xc0, 0xff, 0x01}, 67)[:200]...), ErrDecode},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			nc := rawOpen(t, addr)
			nc.Write(tc.frame)
			expectClose(t, nc, tc.cond)
		})
	}
	// The server still serves others.
	_, s := dialGo(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.NewSender(ctx, "q", nil); err != nil {
		t.Fatal(err)
	}
}

func TestIdleTimeoutClosesSilentPeer(t *testing.T) {
	b := newMemBroker()
	addr := serveMem(t, b, 150*time.Millisecond)
	nc := rawOpen(t, addr)
	start := time.Now()
	expectClose(t, nc, ErrResourceLimit)
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("closed after %v, before twice the idle timeout", el)
	}
	// A go-amqp client heartbeats and stays up.
	c, s := dialGo(t, addr)
	time.Sleep(600 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.NewSender(ctx, "q", nil); err != nil {
		t.Fatalf("after idle period: %v", err)
	}
	_ = c
}

func TestManyConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("200 connections")
	}
	b := newMemBroker()
	addr := serveMem(t, b, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := goamqp.Dial(ctx, "amqp://"+addr, nil)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			s, err := c.NewSession(ctx, nil)
			if err != nil {
				errs <- err
				return
			}
			addr := "conn-" + itoa(i)
			snd, err := s.NewSender(ctx, addr, nil)
			if err != nil {
				errs <- err
				return
			}
			rcv, err := s.NewReceiver(ctx, addr, nil)
			if err != nil {
				errs <- err
				return
			}
			for j := range 5 {
				if err := snd.Send(ctx, goamqp.NewMessage([]byte{byte(j)}), nil); err != nil {
					errs <- err
					return
				}
			}
			for j := range 5 {
				m, err := rcv.Receive(ctx, nil)
				if err != nil || m.GetData()[0] != byte(j) {
					errs <- err
					return
				}
				rcv.AcceptMessage(ctx, m)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func itoa(i int) string {
	var b []byte
	if i == 0 {
		return "0"
	}
	for i > 0 {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
	}
	return string(b)
}

func TestOversizeTransferDetachesWithMessageSizeExceeded(t *testing.T) {
	b := newMemBroker()
	b.maxSize = 1000
	addr := serveMem(t, b, 0)
	nc := rawOpen(t, addr)
	write := func(body any, payload []byte) {
		f, err := AppendFrame(nil, FrameAMQP, 0, body, payload)
		if err != nil {
			t.Fatal(err)
		}
		nc.Write(f)
	}
	write(&Begin{NextOutgoingID: 0, IncomingWindow: 100, OutgoingWindow: 100, HandleMax: 10}, nil)
	mode := SndUnsettled
	write(&Attach{Name: "big", Handle: 0, Role: RoleSender, SndSettleMode: &mode, Source: &Source{Address: "me"}, Target: &Target{Address: "q"}}, nil)
	var credit bool
	for !credit {
		switch f := readBody(t, nc).(type) {
		case *Attach:
			if f.MaxMessageSize != 1000 {
				t.Fatalf("advertised max-message-size %d", f.MaxMessageSize)
			}
		case *Flow:
			credit = f.LinkCredit != nil && *f.LinkCredit > 0
		}
	}
	id, format := uint32(0), uint32(0)
	// Two frames of 600 bytes: the second crosses the limit.
	write(&Transfer{Handle: 0, DeliveryID: &id, DeliveryTag: []byte{1}, MessageFormat: &format, More: true}, make([]byte, 600))
	write(&Transfer{Handle: 0, More: false}, make([]byte, 600))
	for {
		if d, ok := readBody(t, nc).(*Detach); ok {
			if d.Error == nil || d.Error.Condition != ErrLinkMessageSize || !d.Closed {
				t.Fatalf("detach %+v", d)
			}
			break
		}
	}
	// The connection is still usable: answer the detach and attach again.
	write(&Detach{Handle: 0, Closed: true}, nil)
	write(&Attach{Name: "big2", Handle: 1, Role: RoleSender, SndSettleMode: &mode, Source: &Source{Address: "me"}, Target: &Target{Address: "q"}}, nil)
	for {
		if a, ok := readBody(t, nc).(*Attach); ok && a.Name == "big2" {
			break
		}
	}
}

func readBody(t *testing.T, nc net.Conn) any {
	t.Helper()
	for {
		_, body := readRaw(t, nc)
		if body != nil {
			return body
		}
	}
}

func TestReceiverSettleModeSecondOnIncomingLink(t *testing.T) {
	b := newMemBroker()
	addr := serveMem(t, b, 0)
	_, s := dialGo(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	second := goamqp.ReceiverSettleModeSecond
	snd, err := s.NewSender(ctx, "q2", &goamqp.SenderOptions{RequestedReceiverSettleMode: &second})
	if err != nil {
		t.Fatal(err)
	}
	// go-amqp waits for the receiver's disposition and then settles; a broker
	// that ignored mode second would leave it waiting or confuse it.
	for i := range 3 {
		if err := snd.Send(ctx, goamqp.NewMessage([]byte{byte(i)}), nil); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	b.mu.Lock()
	n := len(b.queues["q2"])
	b.mu.Unlock()
	if n != 3 {
		t.Fatalf("stored %d", n)
	}
}
