package amqp

import (
	"errors"
	"fmt"
)

// Link is one attached link. The exported fields describe the peer's attach and
// are read-only after the handler's Attach returns, except those the handler sets
// during Attach (MaxMessageSize, Credit, Value, and the settle modes our attach
// answers with: RcvSettleMode on a link where we receive is the mode we will use).
type Link struct {
	Name string
	// Role is this end's role: RoleSender when we send to the peer.
	Role          bool
	Source        *Source
	Target        *Target
	SndSettleMode uint8
	RcvSettleMode uint8
	// PeerMaxMessageSize is what the peer accepts (0 = no limit).
	PeerMaxMessageSize uint64
	Properties         map[any]any
	DesiredCaps        []Symbol

	// MaxMessageSize is advertised in our attach and enforced on incoming
	// messages; set by the handler during Attach. 0 = no limit.
	MaxMessageSize uint64
	// Credit is what we grant the peer when we receive; set during Attach
	// (default 1000). It is replenished whenever half is used.
	Credit uint32
	// Value is for the handler's use.
	Value any
	// ReplySource, when set during Attach, replaces the echoed source in our
	// attach (a broker may narrow it, e.g. to the session it chose), and
	// ReplyProperties become our attach's link properties.
	ReplySource     *Source
	ReplyProperties map[any]any

	sess          *session
	pendingAttach *Attach // the peer's attach while the handler defers its answer
	handle        uint32

	// State below is guarded by sess.c.mu.
	detached  bool
	detaching bool

	// Sending side.
	deliveryCount uint32
	credit        uint32
	drain         bool
	queue         []*OutDelivery
	inReady       bool

	// Receiving side.
	peerDeliveryCount uint32
	rcvDeliveryCount  uint32
	creditLeft        uint32
	partial           *Delivery
	partialSize       uint64
}

// Conn returns the link's connection.
func (l *Link) Conn() *Conn { return l.sess.c }

// SameSession reports whether l and o are on the same session, as a
// request-response node needs to find the requester's reply link when a request
// names none.
func (l *Link) SameSession(o *Link) bool { return o != nil && l.sess == o.sess }

// Delivery is a message received from the peer.
type Delivery struct {
	Link    *Link
	ID      uint32
	Tag     []byte
	Format  uint32
	Settled bool // sent pre-settled by the peer, or settled by us since
	Payload []byte

	aborted bool
}

// OutDelivery is a message we send to the peer.
type OutDelivery struct {
	Link       *Link
	Tag        []byte
	Format     uint32
	Payload    []byte
	PreSettled bool
	// Value is for the handler's use (e.g. the message and lock it carries).
	Value any
	// ID is the delivery-id, assigned when the first frame is sent.
	ID uint32

	settled bool
}

func (s *session) onAttach(a *Attach) error {
	c := s.c
	c.mu.Lock()
	if _, inUse := s.links[a.Handle]; inUse {
		c.mu.Unlock()
		return connErr(ErrSessionHandleInUse, "handle %d is in use", a.Handle)
	}
	if a.Handle > s.handleMax {
		c.mu.Unlock()
		return connErr(ErrInvalidField, "handle %d exceeds handle-max %d", a.Handle, s.handleMax)
	}
	l := &Link{
		Name: a.Name, Role: !a.Role, Source: a.Source, Target: a.Target, PeerMaxMessageSize: a.MaxMessageSize,
		Properties: a.Properties, DesiredCaps: a.DesiredCapabilities, Credit: 1000, sess: s, handle: a.Handle,
		peerDeliveryCount: a.InitialDeliveryCount, rcvDeliveryCount: a.InitialDeliveryCount,
	}
	if a.SndSettleMode != nil {
		l.SndSettleMode = *a.SndSettleMode
	} else {
		l.SndSettleMode = SndMixed
	}
	if a.RcvSettleMode != nil {
		l.RcvSettleMode = *a.RcvSettleMode
	}
	// Link names are unique per container pair and direction (section 2.6.1):
	// a sender and a receiver may share one (Qpid Proton names both of its links
	// to a node "<container>-<address>"). A second attach with a name in use in
	// the same direction steals the link (the section leaves it to the
	// container; this is what brokers commonly do).
	key := linkKey{name: a.Name, role: l.Role}
	stolen := s.linkNames[key]
	s.links[a.Handle] = l
	s.linkNames[key] = l
	c.mu.Unlock()
	if stolen != nil && stolen != l {
		stolen.Detach(&Error{Condition: ErrLinkStolen, Description: "a link with this name was attached again"})
	}

	// The attach is pending from here on, so that a handler deferring it can
	// complete it from another goroutine even before Attach returns.
	c.mu.Lock()
	l.pendingAttach = a
	c.mu.Unlock()
	refusal := c.h.Attach(l)
	if refusal == AttachLater {
		return nil
	}
	c.mu.Lock()
	pending := l.pendingAttach
	l.pendingAttach = nil
	c.mu.Unlock()
	if pending != nil {
		l.completeAttach(pending, refusal)
	}
	return nil
}

// AttachLater, returned by a handler's Attach, defers the answer: the handler
// calls CompleteAttach later (from any goroutine), for example once a resource
// the link waits for is free. Meanwhile the connection carries on.
var AttachLater = &Error{Condition: "localazure:attach-later"}

// CompleteAttach answers an attach the handler deferred with AttachLater:
// refusal nil accepts it. It does nothing if the link went away meanwhile.
func (l *Link) CompleteAttach(refusal *Error) {
	c := l.sess.c
	c.mu.Lock()
	a := l.pendingAttach
	l.pendingAttach = nil
	gone := l.detached || l.detaching || l.sess.ended || c.closing
	c.mu.Unlock()
	if a == nil || gone {
		return
	}
	l.completeAttach(a, refusal)
}

// AttachPending reports whether the link waits for CompleteAttach.
func (l *Link) AttachPending() bool {
	c := l.sess.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return l.pendingAttach != nil
}

func (l *Link) completeAttach(a *Attach, refusal *Error) {
	s := l.sess
	c := s.c
	snd, rcv := l.SndSettleMode, l.RcvSettleMode
	reply := &Attach{Name: a.Name, Handle: l.handle, Role: l.Role, SndSettleMode: &snd, RcvSettleMode: &rcv,
		MaxMessageSize: l.MaxMessageSize, Properties: l.ReplyProperties}
	if refusal == nil {
		reply.Source, reply.Target = a.Source, a.Target
		if l.ReplySource != nil {
			reply.Source = l.ReplySource
		}
		if reply.Source == nil {
			reply.Source = &Source{}
		}
		if reply.Target == nil {
			reply.Target = &Target{}
		}
	} else if l.Role == RoleSender {
		// A refusing sender attaches with a null source, and a refusing receiver
		// with a null target; the other terminus is echoed.
		reply.Target = a.Target
	} else {
		reply.Source = a.Source
	}
	c.send(s.ourCh, reply, nil)
	if refusal != nil {
		// The handle stays known until the peer answers the detach.
		l.Detach(refusal)
		return
	}
	if l.Role == RoleReceiver {
		c.mu.Lock()
		l.creditLeft = l.Credit
		f := l.linkFlowLocked()
		c.mu.Unlock()
		c.send(s.ourCh, f, nil)
	}
}

// linkFlowLocked builds a flow carrying this link's state.
func (l *Link) linkFlowLocked() *Flow {
	f := l.sess.flowLocked()
	h := l.handle
	f.Handle = &h
	if l.Role == RoleReceiver {
		dc, cr := l.rcvDeliveryCount, l.creditLeft
		f.DeliveryCount, f.LinkCredit = &dc, &cr
	} else {
		dc, cr := l.deliveryCount, l.credit
		avail := uint32(len(l.queue))
		f.DeliveryCount, f.LinkCredit, f.Available = &dc, &cr, &avail
		f.Drain = l.drain
	}
	return f
}

// finishDrainLocked completes a drain request: when the peer asked to drain and
// nothing more is queued, the remaining credit is used up by advancing the
// delivery count, and a flow tells the peer so (section 2.6.7).
func (l *Link) finishDrainLocked() *Flow {
	if !l.drain || l.Role != RoleSender || l.detached {
		return nil
	}
	if len(l.queue) > 0 && l.credit > 0 {
		return nil // still sending; the pump finishes the drain later
	}
	l.deliveryCount += l.credit
	l.credit = 0
	f := l.linkFlowLocked()
	f.Drain = true
	l.drain = false
	return f
}

// addTransferLocked adds a transfer frame to the delivery being assembled and
// returns the delivery once complete.
func (l *Link) addTransferLocked(t *Transfer) (*Delivery, *Error) {
	d := l.partial
	if d == nil {
		if t.DeliveryID == nil {
			return nil, &Error{Condition: ErrInvalidField, Description: "first transfer of a delivery without delivery-id"}
		}
		d = &Delivery{Link: l, ID: *t.DeliveryID, Tag: append([]byte(nil), t.DeliveryTag...)}
		if t.MessageFormat != nil {
			d.Format = *t.MessageFormat
		}
		if t.Settled != nil {
			d.Settled = *t.Settled
		}
		if l.SndSettleMode == SndSettled {
			d.Settled = true
		}
	} else if t.Settled != nil && *t.Settled {
		d.Settled = true
	}
	if t.Aborted {
		l.partial = nil
		l.partialSize = 0
		d.aborted = true
		return d, nil
	}
	l.partialSize += uint64(len(t.Payload))
	if l.MaxMessageSize != 0 && l.partialSize > l.MaxMessageSize {
		l.partial = nil
		l.partialSize = 0
		return nil, &Error{Condition: ErrLinkMessageSize,
			Description: fmt.Sprintf("the message exceeds the link's maximum message size of %d bytes", l.MaxMessageSize)}
	}
	if t.More {
		if d.Payload == nil {
			d.Payload = make([]byte, 0, 2*len(t.Payload))
		}
		d.Payload = append(d.Payload, t.Payload...)
		l.partial = d
		return nil, nil
	}
	if d.Payload == nil {
		// Single-frame delivery: the frame buffer is ours alone, no copy needed.
		d.Payload = t.Payload
	} else {
		d.Payload = append(d.Payload, t.Payload...)
	}
	l.partial = nil
	l.partialSize = 0
	return d, nil
}

// consumeCreditLocked accounts for one received delivery and returns a flow when
// the peer's credit should be topped up.
func (l *Link) consumeCreditLocked() *Flow {
	l.rcvDeliveryCount++
	if l.creditLeft > 0 {
		l.creditLeft--
	}
	if l.creditLeft <= l.Credit/2 {
		l.creditLeft = l.Credit
		return l.linkFlowLocked()
	}
	return nil
}

// Available is how many more deliveries the peer has credit for, beyond those
// already queued. Only meaningful on links where we send.
func (l *Link) Available() int {
	c := l.sess.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.detached || l.detaching {
		return 0
	}
	return int(l.credit) - len(l.queue)
}

// Draining reports whether the peer asked to drain the link's credit.
func (l *Link) Draining() bool {
	c := l.sess.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return l.drain
}

// ErrDetached is returned when sending on a link that is gone.
var ErrDetached = errors.New("amqp: link is detached")

// Send queues d for the peer; it goes out when the link has credit and the
// session's window has room. Links used for request/response (like $cbs
// replies) can therefore send before the peer has granted credit.
func (l *Link) Send(d *OutDelivery) error {
	if l.Role != RoleSender {
		return fmt.Errorf("amqp: send on receiving link %q", l.Name)
	}
	d.Link = l
	c := l.sess.c
	c.mu.Lock()
	if l.detached || l.detaching || l.sess.ended || c.closing {
		c.mu.Unlock()
		return ErrDetached
	}
	if l.SndSettleMode == SndSettled {
		d.PreSettled = true
	}
	l.queue = append(l.queue, d)
	if !l.inReady {
		l.inReady = true
		l.sess.ready = append(l.sess.ready, l)
	}
	l.sess.pumpLocked()
	f := l.finishDrainLocked()
	c.mu.Unlock()
	if f != nil {
		c.send(l.sess.ourCh, f, nil)
	}
	return nil
}

// Settle sends a settled disposition for a delivery we sent, for a broker-side
// outcome (for example a lock lost) the peer did not ask for.
func (d *OutDelivery) Settle(state DeliveryState) {
	l := d.Link
	c := l.sess.c
	c.mu.Lock()
	if d.settled || l.sess.ended {
		c.mu.Unlock()
		return
	}
	d.settled = true
	delete(l.sess.unsettled, d.ID)
	c.mu.Unlock()
	c.send(l.sess.ourCh, &Disposition{Role: RoleSender, First: d.ID, Settled: true, State: state}, nil)
}

// Detach detaches the link from our side with an error (nil for none), closing
// it. The handler's Detached follows when the peer answers (or the session or
// connection ends).
func (l *Link) Detach(e *Error) {
	c := l.sess.c
	c.mu.Lock()
	if l.detached || l.detaching {
		c.mu.Unlock()
		return
	}
	l.detaching = true
	c.mu.Unlock()
	c.send(l.sess.ourCh, &Detach{Handle: l.handle, Closed: true, Error: e}, nil)
}

// detachLocked marks the link gone, forgets its handle and returns what was
// never sent. The peer's answering detach is then recognised by handle only
// while the link is still in the map, so it stays until the peer answers when
// we initiated.
func (l *Link) detachLocked() []*OutDelivery {
	if l.detached {
		return nil
	}
	l.detached = true
	s := l.sess
	if s.links[l.handle] == l {
		delete(s.links, l.handle)
	}
	if key := (linkKey{name: l.Name, role: l.Role}); s.linkNames[key] == l {
		delete(s.linkNames, key)
	}
	unsent := l.queue
	l.queue = nil
	for id, d := range s.unsettled {
		if d.Link == l {
			delete(s.unsettled, id)
		}
	}
	return unsent
}

// Detached reports whether the link is gone.
func (l *Link) Detached() bool {
	c := l.sess.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return l.detached || l.detaching
}
