package stack

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// amqpsMux splits the AMQPS port by what a client sends first after the TLS
// handshake: an AMQP protocol header goes to the broker, anything else (an HTTP
// upgrade to AMQP over WebSockets) to an HTTP server. Clients that use WebSockets
// dial wss://<namespace>/$servicebus/websocket, and with SERVICEBUS_NAMESPACE being
// 127.0.0.1:<amqps port> that is this same port: both transports then work with the
// one address the env file gives.
type amqpsMux struct {
	base      net.Listener // the TLS listener
	amqp, web *chanListener
	closeOnce sync.Once
	wg        sync.WaitGroup
}

func newAMQPSMux(ln net.Listener, cfg *tls.Config) *amqpsMux {
	m := &amqpsMux{base: tls.NewListener(ln, cfg)}
	m.amqp = &chanListener{m: m, conns: make(chan net.Conn), done: make(chan struct{})}
	m.web = &chanListener{m: m, conns: make(chan net.Conn), done: m.amqp.done}
	m.wg.Add(1)
	go m.accept()
	return m
}

func (m *amqpsMux) accept() {
	defer m.wg.Done()
	for {
		c, err := m.base.Accept()
		if err != nil {
			select {
			case <-m.amqp.done:
				return
			default:
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			m.close()
			return
		}
		go m.route(c)
	}
}

// route completes the handshake, peeks at the first bytes and hands the connection on.
func (m *amqpsMux) route(c net.Conn) {
	// A client that connects and says nothing must not hold a goroutine forever.
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	head, err := br.Peek(4)
	c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return
	}
	to := m.web
	if bytes.Equal(head, []byte("AMQP")) {
		to = m.amqp
	}
	select {
	case to.conns <- &peekedConn{Conn: c, r: br}:
	case <-to.done:
		c.Close()
	}
}

func (m *amqpsMux) close() {
	m.closeOnce.Do(func() {
		close(m.amqp.done)
		m.base.Close()
	})
}

// chanListener is one side of the mux as a net.Listener; closing either side closes both.
type chanListener struct {
	m     *amqpsMux
	conns chan net.Conn
	done  chan struct{}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.m.close()
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.m.base.Addr() }

// peekedConn replays the peeked bytes before reading on from the connection.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
