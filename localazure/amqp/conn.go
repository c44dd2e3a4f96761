package amqp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// ConnHandler receives the events of one connection. Calls come from the
// connection's reader goroutine and are never made while the connection's own
// lock is held, so a handler may call back into the Link and Conn methods. A
// handler must not block for long: the connection reads nothing meanwhile.
type ConnHandler interface {
	// Attach decides whether to accept a link the peer attached. Returning an
	// error refuses it: the reply attach carries a null terminus and a detach with
	// the error follows, as AMQP 1.0 section 2.6.3 prescribes.
	Attach(l *Link) *Error
	// Flow tells that the peer changed the credit of a link on which we send.
	Flow(l *Link)
	// Message delivers a complete message received on a link on which we
	// receive. A non-nil state settles the delivery at once (when the peer did
	// not send it settled); nil leaves it to a later call of d.Settle.
	Message(l *Link, d *Delivery) DeliveryState
	// Disposition reports the peer's outcome for a delivery we sent. The state
	// returned is sent back in a settled disposition when the peer did not settle.
	Disposition(l *Link, d *OutDelivery, state DeliveryState, settled bool) DeliveryState
	// Detached tells that a link is gone (detach, end, close or a lost
	// connection); unsent holds the deliveries that never left the queue.
	Detached(l *Link, unsent []*OutDelivery)
	// Closed tells that the connection is finished. err is nil for an orderly close.
	Closed(err error)
}

// Config configures a server-side connection.
type Config struct {
	ContainerID  string
	MaxFrameSize uint32        // advertised; default 65536
	IdleTimeout  time.Duration // advertised; the peer must send something this often. 0 = 60 s
	// SessionWindow is the incoming window advertised per session; default 5000.
	SessionWindow uint32
	// MaxPendingBytes bounds the unwritten output of a connection whose peer stops
	// reading; past it the connection is dropped. Default 64 MiB.
	MaxPendingBytes int
	Logger          *slog.Logger
	// Handler makes the handler for a new connection once the peer has opened it.
	Handler func(c *Conn) ConnHandler
}

// Conn is one AMQP connection accepted by a server.
type Conn struct {
	cfg    Config
	nc     net.Conn
	log    *slog.Logger
	h      ConnHandler
	remote net.Addr

	// PeerOpen is the peer's open performative.
	PeerOpen *Open
	// Value is for the handler's use.
	Value any

	mu           sync.Mutex
	sessions     map[uint16]*session // by the peer's channel
	closing      bool
	peerMaxFrame uint32

	outMu    sync.Mutex
	pending  []byte
	wake     chan struct{}
	closed   chan struct{}
	outErr   error
	lastSent time.Time

	closingLocal atomic.Bool // Close was called: the reader only waits briefly
	closeOnce    sync.Once
	doneOnce     sync.Once
	done         chan struct{}
	writerDone   chan struct{}
}

var (
	amqpHeader = []byte{'A', 'M', 'Q', 'P', 0, 1, 0, 0}
	saslHeader = []byte{'A', 'M', 'Q', 'P', 3, 1, 0, 0}
)

// ServeConn runs the protocol on nc until the connection ends. It returns nil
// after an orderly close.
func ServeConn(nc net.Conn, cfg Config) error {
	if cfg.MaxFrameSize == 0 {
		cfg.MaxFrameSize = 65536
	}
	if cfg.MaxFrameSize < 512 {
		cfg.MaxFrameSize = 512
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	if cfg.SessionWindow == 0 {
		cfg.SessionWindow = 5000
	}
	if cfg.MaxPendingBytes == 0 {
		cfg.MaxPendingBytes = 64 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	remote := "unknown"
	if a := nc.RemoteAddr(); a != nil {
		remote = a.String()
	}
	c := &Conn{
		cfg: cfg, nc: nc, log: cfg.Logger.With("remote", remote), remote: nc.RemoteAddr(),
		sessions: map[uint16]*session{}, peerMaxFrame: 512,
		wake: make(chan struct{}, 1), closed: make(chan struct{}), done: make(chan struct{}), writerDone: make(chan struct{}),
	}
	return c.serve()
}

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// protoError is a connection-level failure to answer with a close.
type protoError struct{ e *Error }

func (p protoError) Error() string { return p.e.Error() }

func connErr(cond Symbol, format string, args ...any) error {
	return protoError{&Error{Condition: cond, Description: fmt.Sprintf(format, args...)}}
}

func (c *Conn) serve() error {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	// The peer gets generous time for the protocol headers and open.
	_ = c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	if err := c.handshake(br); err != nil {
		c.nc.Close()
		c.finish(err)
		return err
	}
	go c.writer()
	err := c.readLoop(br)
	var pe protoError
	switch {
	case err == nil:
	case errors.As(err, &pe):
		c.log.Debug("closing connection on protocol error", "err", err)
		c.sendClose(pe.e)
	case errors.Is(err, ErrMalformed):
		c.log.Debug("closing connection on malformed frame", "err", err)
		c.sendClose(&Error{Condition: ErrDecode, Description: err.Error()})
	case errors.Is(err, errIdle):
		c.sendClose(&Error{Condition: ErrResourceLimit, Description: "idle timeout: no frames received"})
	}
	c.shutdown()
	c.finish(err)
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, errLocalClose) {
		return nil
	}
	return err
}

var (
	errIdle       = errors.New("amqp: peer idle for longer than the idle timeout")
	errLocalClose = errors.New("amqp: connection closed locally")
)

// finish detaches everything and tells the handler, once.
func (c *Conn) finish(err error) {
	c.doneOnce.Do(func() {
		c.mu.Lock()
		c.closing = true
		var gone []*Link
		var unsent [][]*OutDelivery
		for _, s := range c.sessions {
			for _, l := range s.links {
				gone = append(gone, l)
				unsent = append(unsent, l.detachLocked())
			}
		}
		c.sessions = map[uint16]*session{}
		c.mu.Unlock()
		if c.h != nil {
			for i, l := range gone {
				c.h.Detached(l, unsent[i])
			}
			if errors.Is(err, io.EOF) || errors.Is(err, errLocalClose) {
				err = nil
			}
			c.h.Closed(err)
		}
		close(c.done)
	})
}

// handshake runs the protocol headers, SASL and the open exchange.
func (c *Conn) handshake(br *bufio.Reader) error {
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return fmt.Errorf("reading protocol header: %w", err)
	}
	if bytes.Equal(hdr, saslHeader) {
		if err := c.sasl(br); err != nil {
			return err
		}
		if _, err := io.ReadFull(br, hdr); err != nil {
			return fmt.Errorf("reading protocol header after SASL: %w", err)
		}
	}
	if !bytes.Equal(hdr, amqpHeader) {
		// Section 2.2: answer with the header we support, then close.
		_, _ = c.nc.Write(saslHeader)
		return fmt.Errorf("unsupported protocol header %q", hdr)
	}
	if _, err := c.nc.Write(amqpHeader); err != nil {
		return fmt.Errorf("writing protocol header: %w", err)
	}
	ft, ch, body, err := c.readFrame(br)
	if err != nil {
		return fmt.Errorf("reading open: %w", err)
	}
	open, ok := body.(*Open)
	if !ok || ft != FrameAMQP {
		return fmt.Errorf("expected open on channel %d, got %T", ch, body)
	}
	c.PeerOpen = open
	c.peerMaxFrame = max(512, open.MaxFrameSize)
	c.h = c.cfg.Handler(c)
	reply := &Open{ContainerID: c.cfg.ContainerID, MaxFrameSize: c.cfg.MaxFrameSize, ChannelMax: 0xffff,
		IdleTimeout: c.cfg.IdleTimeout}
	b, err := AppendFrame(nil, FrameAMQP, 0, reply, nil)
	if err != nil {
		return err
	}
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("writing open: %w", err)
	}
	return nil
}

// sasl offers ANONYMOUS, PLAIN and EXTERNAL and accepts whichever the client
// picks: Service Bus authorizes through $cbs tokens, not the SASL identity.
func (c *Conn) sasl(br *bufio.Reader) error {
	b := append([]byte(nil), saslHeader...)
	b, err := AppendFrame(b, FrameSASL, 0, &SASLMechanisms{Mechanisms: []Symbol{"ANONYMOUS", "PLAIN", "EXTERNAL", "MSSBCBS"}}, nil)
	if err != nil {
		return err
	}
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("writing SASL mechanisms: %w", err)
	}
	ft, _, body, err := c.readFrame(br)
	if err != nil {
		return fmt.Errorf("reading SASL init: %w", err)
	}
	in, ok := body.(*SASLInit)
	if !ok || ft != FrameSASL {
		return fmt.Errorf("expected sasl-init, got %T", body)
	}
	code := uint8(0)
	switch in.Mechanism {
	case "ANONYMOUS", "PLAIN", "EXTERNAL", "MSSBCBS":
	default:
		code = 1 // auth: unsupported mechanism
	}
	out, err := AppendFrame(nil, FrameSASL, 0, &SASLOutcome{Code: code}, nil)
	if err != nil {
		return err
	}
	if _, err := c.nc.Write(out); err != nil {
		return fmt.Errorf("writing SASL outcome: %w", err)
	}
	if code != 0 {
		return fmt.Errorf("SASL mechanism %q not supported", in.Mechanism)
	}
	return nil
}

// readFrame reads one whole frame, bounded by our max frame size.
func (c *Conn) readFrame(br *bufio.Reader) (byte, uint16, any, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return 0, 0, nil, err
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if size < 8 || size > c.cfg.MaxFrameSize {
		return 0, 0, nil, connErr(ErrConnFraming, "frame size %d outside 8..%d", size, c.cfg.MaxFrameSize)
	}
	if hdr[4] < 2 {
		return 0, 0, nil, connErr(ErrConnFraming, "data offset %d", hdr[4])
	}
	buf := make([]byte, size)
	copy(buf, hdr[:])
	if _, err := io.ReadFull(br, buf[8:]); err != nil {
		return 0, 0, nil, err
	}
	return ReadFrame(buf)
}

func (c *Conn) readLoop(br *bufio.Reader) (err error) {
	// A bug in decoding or in a handler must cost one connection, not the process.
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic while serving a connection", "panic", r, "stack", string(debug.Stack()))
			err = connErr(ErrInternal, "internal error")
		}
	}()
	for {
		wait := 2 * c.cfg.IdleTimeout
		if c.closingLocal.Load() {
			wait = time.Second // only waiting for the peer's answering close
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(wait))
		ft, ch, body, err := c.readFrame(br)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.mu.Lock()
				closing := c.closing
				c.mu.Unlock()
				if closing {
					return errLocalClose
				}
				return errIdle
			}
			return err
		}
		if ft != FrameAMQP {
			return connErr(ErrConnFraming, "unexpected frame type %d after open", ft)
		}
		if body == nil {
			continue // heartbeat
		}
		if err := c.dispatch(ch, body); err != nil {
			return err
		}
		if br.Buffered() == 0 {
			// End of a burst: send the coalesced dispositions now.
			c.flushDispositions()
		}
	}
}

// dispatch handles one performative.
func (c *Conn) dispatch(ch uint16, body any) error {
	switch p := body.(type) {
	case *Open:
		return connErr(ErrIllegalState, "second open")
	case *Close:
		c.mu.Lock()
		c.closing = true
		c.mu.Unlock()
		c.sendClose(nil)
		if p.Error != nil {
			return fmt.Errorf("peer closed the connection: %w", p.Error)
		}
		return io.EOF
	case *Begin:
		return c.onBegin(ch, p)
	}
	c.mu.Lock()
	s := c.sessions[ch]
	c.mu.Unlock()
	if s == nil {
		return connErr(ErrIllegalState, "%T on channel %d without a session", body, ch)
	}
	switch p := body.(type) {
	case *End:
		c.onEnd(s, p)
		return nil
	case *Attach:
		return s.onAttach(p)
	case *Flow:
		return s.onFlow(p)
	case *Transfer:
		return s.onTransfer(p)
	case *Disposition:
		return s.onDisposition(p)
	case *Detach:
		return s.onDetach(p)
	}
	return connErr(ErrConnFraming, "unexpected %T", body)
}

// send queues a frame for the writer. It reports false once the connection is
// closing for output.
func (c *Conn) send(ch uint16, body any, payload []byte) bool {
	c.outMu.Lock()
	if c.outErr != nil {
		c.outMu.Unlock()
		return false
	}
	var err error
	c.pending, err = AppendFrame(c.pending, FrameAMQP, ch, body, payload)
	tooMuch := len(c.pending) > c.cfg.MaxPendingBytes
	c.outMu.Unlock()
	if err != nil {
		c.log.Error("encoding frame", "err", err)
		return false
	}
	if tooMuch {
		c.log.Warn("peer is not reading; dropping connection")
		c.nc.Close()
		return false
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// writer writes whatever frames have queued up in one write, so that a burst of
// frames costs one syscall, and keeps the peer's idle timer satisfied.
func (c *Conn) writer() {
	defer close(c.writerDone)
	var spare []byte
	hb := time.Duration(0)
	if c.PeerOpen != nil && c.PeerOpen.IdleTimeout > 0 {
		// Half the peer's timeout, but never a busy loop for absurd values.
		hb = max(c.PeerOpen.IdleTimeout/2, 50*time.Millisecond)
	}
	var tick <-chan time.Time
	if hb > 0 {
		t := time.NewTicker(hb)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-c.wake:
		case <-tick:
			c.outMu.Lock()
			if len(c.pending) == 0 && time.Since(c.lastSent) >= hb {
				c.pending = append(c.pending, 0, 0, 0, 8, 2, 0, 0, 0) // empty frame
			}
			c.outMu.Unlock()
		case <-c.closed:
			c.drainOut(spare)
			return
		}
		if !c.writeOut(&spare) {
			return
		}
	}
}

func (c *Conn) writeOut(spare *[]byte) bool {
	c.outMu.Lock()
	buf := c.pending
	c.pending = (*spare)[:0]
	c.outMu.Unlock()
	if len(buf) == 0 {
		*spare = buf
		return true
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := c.nc.Write(buf)
	*spare = buf[:0]
	if cap(buf) > 4<<20 {
		*spare = nil // do not keep a burst's buffer for the life of the connection
	}
	c.outMu.Lock()
	c.lastSent = time.Now()
	if err != nil && c.outErr == nil {
		c.outErr = err
	}
	c.outMu.Unlock()
	if err != nil {
		c.nc.Close()
		return false
	}
	return true
}

func (c *Conn) drainOut(spare []byte) {
	c.writeOut(&spare)
}

// sendClose queues a close and makes the writer flush it before the socket is
// closed: a client waits for the close performative.
func (c *Conn) sendClose(e *Error) {
	c.closeOnce.Do(func() {
		c.send(0, &Close{Error: e}, nil)
		c.outMu.Lock()
		c.outErr = errLocalClose
		c.outMu.Unlock()
	})
}

// shutdown stops the writer after it flushed and closes the socket.
func (c *Conn) shutdown() {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	// The writer exits after one last flush; wait for it so frames keep their
	// order, then write anything queued since.
	select {
	case <-c.writerDone:
		c.writeFinal()
	case <-time.After(2 * time.Second):
	}
	c.nc.Close()
}

// writeFinal writes anything left after the writer exited.
func (c *Conn) writeFinal() {
	c.outMu.Lock()
	buf := c.pending
	c.pending = nil
	c.outMu.Unlock()
	if len(buf) > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = c.nc.Write(buf)
	}
}

// Close closes the connection with a close performative carrying e (nil for
// a plain close), flushes it, and waits briefly for the peer's close.
func (c *Conn) Close(e *Error) {
	c.closingLocal.Store(true)
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.sendClose(e)
	// The reader sees the peer's close (or EOF / the deadline) and shuts down.
	_ = c.nc.SetReadDeadline(time.Now().Add(time.Second))
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
		c.nc.Close()
	}
}
