package servicebusemu

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/amqp"
)

// rawPeer is an AMQP 1.0 client written frame by frame with the project's codec,
// for tests that must send exactly what a client on another AMQP stack sends
// (go-amqp cannot leave out reply-to, spell a filter differently or ask for
// other settle modes on its own).
type rawPeer struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

// dialRaw opens a connection (protocol header and open, no SASL) to addr.
func dialRaw(t *testing.T, addr string) *rawPeer {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	p := &rawPeer{t: t, nc: nc, br: bufio.NewReader(nc)}
	if _, err := nc.Write([]byte("AMQP\x00\x01\x00\x00")); err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 8)
	p.deadline()
	if _, err := io.ReadFull(p.br, hdr); err != nil || string(hdr) != "AMQP\x00\x01\x00\x00" {
		t.Fatalf("protocol header: %q %v", hdr, err)
	}
	p.send(0, &amqp.Open{ContainerID: "raw-peer", Hostname: "127.0.0.1", MaxFrameSize: 65536, ChannelMax: 65535}, nil)
	if _, ok := p.next().(*amqp.Open); !ok {
		t.Fatal("no open from the broker")
	}
	return p
}

func (p *rawPeer) deadline() { p.nc.SetReadDeadline(time.Now().Add(5 * time.Second)) }

func (p *rawPeer) send(ch uint16, body any, payload []byte) {
	p.t.Helper()
	b, err := amqp.AppendFrame(nil, amqp.FrameAMQP, ch, body, payload)
	if err != nil {
		p.t.Fatalf("encoding %T: %v", body, err)
	}
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatalf("writing %T: %v", body, err)
	}
}

// next reads the next performative, skipping empty (heartbeat) frames; the
// channel is in lastCh.
func (p *rawPeer) next() any {
	_, body := p.nextOn()
	return body
}

func (p *rawPeer) nextOn() (uint16, any) {
	p.t.Helper()
	for {
		p.deadline()
		var hdr [8]byte
		if _, err := io.ReadFull(p.br, hdr[:]); err != nil {
			p.t.Fatalf("reading a frame: %v", err)
		}
		buf := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		copy(buf, hdr[:])
		if _, err := io.ReadFull(p.br, buf[8:]); err != nil {
			p.t.Fatalf("reading a frame: %v", err)
		}
		_, ch, body, err := amqp.ReadFrame(buf)
		if err != nil {
			p.t.Fatalf("decoding a frame: %v", err)
		}
		if body != nil {
			return ch, body
		}
	}
}

// until reads performatives up to and including the first for which want is
// true, and returns those it read.
func (p *rawPeer) until(want func(ch uint16, body any) bool) []any {
	p.t.Helper()
	var seen []any
	for range 100 {
		ch, body := p.nextOn()
		seen = append(seen, body)
		if want(ch, body) {
			return seen
		}
	}
	p.t.Fatalf("the awaited frame did not come; got %v", seen)
	return nil
}

// begin begins a session on ch.
func (p *rawPeer) begin(ch uint16) {
	p.t.Helper()
	p.send(ch, &amqp.Begin{NextOutgoingID: 0, IncomingWindow: 65536, OutgoingWindow: 65536, HandleMax: 4294967295}, nil)
	p.until(func(c uint16, b any) bool { _, ok := b.(*amqp.Begin); return ok && c == ch })
}

func u8(v uint8) *uint8    { return &v }
func u32(v uint32) *uint32 { return &v }
func boolp(v bool) *bool   { return &v }

// encode encodes a message for a transfer.
func encode(t *testing.T, m *amqp.Message) []byte {
	t.Helper()
	b, err := m.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeTransfer decodes the message a transfer carries (single-frame).
func decodeTransfer(t *testing.T, tr *amqp.Transfer) *amqp.Message {
	t.Helper()
	var m amqp.Message
	if err := m.Unmarshal(tr.Payload); err != nil {
		t.Fatalf("decoding the broker's message: %v", err)
	}
	return &m
}
