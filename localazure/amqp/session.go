package amqp

// linkKey identifies a link within a session: its name and our role on it.
type linkKey struct {
	name string
	role bool
}

// session is one session of a connection. All fields are guarded by conn.mu.
type session struct {
	c         *Conn
	peerCh    uint16           // channel the peer sends on
	ourCh     uint16           // channel we send on
	links     map[uint32]*Link // by the peer's handle
	linkNames map[linkKey]*Link
	handleMax uint32

	// Incoming (peer -> us) window accounting, section 2.5.6.
	nextIncomingID uint32
	incomingWindow uint32 // what is left of the window we advertised
	// Outgoing.
	nextOutgoingID       uint32
	remoteIncomingWindow uint32
	unsettled            map[uint32]*OutDelivery // our unsettled deliveries by delivery-id
	ready                []*Link                 // links with queued deliveries

	// Dispositions answering the peer's transfers, coalesced into ranges.
	dispFirst, dispLast uint32
	dispState           DeliveryState
	dispPending         bool
	ended               bool
}

func (c *Conn) onBegin(ch uint16, b *Begin) error {
	c.mu.Lock()
	if _, dup := c.sessions[ch]; dup {
		c.mu.Unlock()
		return connErr(ErrIllegalState, "begin on channel %d which already has a session", ch)
	}
	if b.RemoteChannel != nil {
		c.mu.Unlock()
		return connErr(ErrNotAllowed, "begin with remote-channel: this server does not begin sessions")
	}
	s := &session{
		c: c, peerCh: ch, ourCh: ch, links: map[uint32]*Link{}, linkNames: map[linkKey]*Link{},
		handleMax: 0xffff, nextIncomingID: b.NextOutgoingID, incomingWindow: c.cfg.SessionWindow,
		remoteIncomingWindow: b.IncomingWindow, unsettled: map[uint32]*OutDelivery{},
	}
	c.sessions[ch] = s
	rc := ch
	c.mu.Unlock()
	c.send(s.ourCh, &Begin{RemoteChannel: &rc, NextOutgoingID: 0, IncomingWindow: c.cfg.SessionWindow,
		OutgoingWindow: 0xffffffff, HandleMax: s.handleMax}, nil)
	return nil
}

func (c *Conn) onEnd(s *session, e *End) {
	c.flushDispositions()
	c.mu.Lock()
	var gone []*Link
	var unsent [][]*OutDelivery
	for _, l := range s.links {
		gone = append(gone, l)
		unsent = append(unsent, l.detachLocked())
	}
	s.ended = true
	delete(c.sessions, s.peerCh)
	c.mu.Unlock()
	c.send(s.ourCh, &End{}, nil)
	for i, l := range gone {
		c.h.Detached(l, unsent[i])
	}
	if e.Error != nil {
		c.log.Debug("peer ended session with error", "err", e.Error)
	}
}

// flowLocked builds a flow carrying the session state. Caller holds c.mu.
func (s *session) flowLocked() *Flow {
	nid := s.nextIncomingID
	return &Flow{NextIncomingID: &nid, IncomingWindow: s.incomingWindow, NextOutgoingID: s.nextOutgoingID,
		OutgoingWindow: 0xffffffff}
}

func (s *session) onFlow(f *Flow) error {
	c := s.c
	c.mu.Lock()
	// remote-incoming-window = next-incoming-id(flow) + incoming-window(flow) - next-outgoing-id(ours)
	if f.NextIncomingID != nil {
		s.remoteIncomingWindow = *f.NextIncomingID + f.IncomingWindow - s.nextOutgoingID
	} else {
		s.remoteIncomingWindow = f.IncomingWindow - s.nextOutgoingID
	}
	var l *Link
	if f.Handle != nil {
		l = s.links[*f.Handle]
		if l == nil {
			c.mu.Unlock()
			return connErr(ErrSessionUnattached, "flow for unattached handle %d", *f.Handle)
		}
	}
	if l == nil {
		s.pumpLocked()
		echo := f.Echo
		var reply *Flow
		if echo {
			reply = s.flowLocked()
		}
		c.mu.Unlock()
		if reply != nil {
			c.send(s.ourCh, reply, nil)
		}
		return nil
	}
	if l.Role == RoleReceiver {
		// The peer sends on this link; its flow only informs (or asks for an echo).
		if f.DeliveryCount != nil {
			l.peerDeliveryCount = *f.DeliveryCount
		}
		var reply *Flow
		if f.Echo {
			reply = l.linkFlowLocked()
		}
		c.mu.Unlock()
		if reply != nil {
			c.send(s.ourCh, reply, nil)
		}
		return nil
	}
	// We send on this link: the peer grants credit.
	if f.LinkCredit != nil {
		rcvCount := l.deliveryCount
		if f.DeliveryCount != nil {
			rcvCount = *f.DeliveryCount
		}
		l.credit = rcvCount + *f.LinkCredit - l.deliveryCount
		if int32(l.credit) < 0 {
			l.credit = 0
		}
	}
	l.drain = f.Drain
	s.pumpLocked()
	echo := f.Echo
	c.mu.Unlock()
	c.h.Flow(l)
	c.mu.Lock()
	s.pumpLocked()
	reply := l.finishDrainLocked()
	if reply == nil && echo {
		reply = l.linkFlowLocked()
	}
	c.mu.Unlock()
	if reply != nil {
		c.send(s.ourCh, reply, nil)
	}
	return nil
}

func (s *session) onTransfer(t *Transfer) error {
	c := s.c
	c.mu.Lock()
	l := s.links[t.Handle]
	if l == nil {
		c.mu.Unlock()
		return connErr(ErrSessionUnattached, "transfer for unattached handle %d", t.Handle)
	}
	if l.Role != RoleReceiver {
		c.mu.Unlock()
		return connErr(ErrNotAllowed, "transfer on link %q on which this end sends", l.Name)
	}
	s.nextIncomingID++
	if s.incomingWindow > 0 {
		s.incomingWindow--
	}
	var sessFlow *Flow
	if s.incomingWindow < c.cfg.SessionWindow/2 {
		s.incomingWindow = c.cfg.SessionWindow
		sessFlow = s.flowLocked()
	}
	if l.detaching {
		// Frames in flight before the peer saw our detach.
		c.mu.Unlock()
		if sessFlow != nil {
			c.send(s.ourCh, sessFlow, nil)
		}
		return nil
	}
	d, linkErr := l.addTransferLocked(t)
	var credFlow *Flow
	if d != nil {
		credFlow = l.consumeCreditLocked()
	}
	c.mu.Unlock()
	if sessFlow != nil {
		c.send(s.ourCh, sessFlow, nil)
	}
	if linkErr != nil {
		l.Detach(linkErr)
		return nil
	}
	if credFlow != nil {
		c.send(s.ourCh, credFlow, nil)
	}
	if d == nil {
		return nil
	}
	if d.aborted {
		return nil
	}
	state := c.h.Message(l, d)
	if state != nil && !d.Settled {
		d.Settle(state)
	}
	return nil
}

// Settle settles a received delivery with state; the disposition may be
// coalesced with others and is sent at the end of the current read burst.
func (d *Delivery) Settle(state DeliveryState) {
	l := d.Link
	c := l.sess.c
	if d.Settled {
		return
	}
	d.Settled = true
	c.mu.Lock()
	s := l.sess
	if s.ended || l.detached {
		c.mu.Unlock()
		return
	}
	if l.RcvSettleMode == RcvSecond {
		// Receiver-settle-mode second: announce the outcome unsettled; the
		// sender settles, and that ends the delivery (section 2.6.12).
		c.mu.Unlock()
		c.send(s.ourCh, &Disposition{Role: RoleReceiver, First: d.ID, Settled: false, State: state}, nil)
		return
	}
	var flush *Disposition
	if s.dispPending && s.dispLast+1 == d.ID && sameOutcome(s.dispState, state) {
		s.dispLast = d.ID
	} else {
		flush = s.takeDispositionLocked()
		s.dispFirst, s.dispLast, s.dispState, s.dispPending = d.ID, d.ID, state, true
	}
	_, isAccepted := state.(*Accepted)
	c.mu.Unlock()
	if flush != nil {
		c.send(s.ourCh, flush, nil)
	}
	if !isAccepted {
		// Only plain acceptances wait for the end of the burst; anything carrying
		// information goes out now.
		c.mu.Lock()
		flush = s.takeDispositionLocked()
		c.mu.Unlock()
		if flush != nil {
			c.send(s.ourCh, flush, nil)
		}
	}
}

// SettleNow is Settle with the disposition sent at once, ahead of anything the
// handler sends next, instead of at the end of the read burst: a request-response
// node settles its request before it answers, as clients of such nodes expect.
func (d *Delivery) SettleNow(state DeliveryState) {
	d.Settle(state)
	s := d.Link.sess
	c := s.c
	c.mu.Lock()
	flush := s.takeDispositionLocked()
	c.mu.Unlock()
	if flush != nil {
		c.send(s.ourCh, flush, nil)
	}
}

func sameOutcome(a, b DeliveryState) bool {
	_, aa := a.(*Accepted)
	_, bb := b.(*Accepted)
	return aa && bb
}

func (s *session) takeDispositionLocked() *Disposition {
	if !s.dispPending {
		return nil
	}
	s.dispPending = false
	d := &Disposition{Role: RoleReceiver, First: s.dispFirst, Settled: true, State: s.dispState}
	if s.dispLast != s.dispFirst {
		last := s.dispLast
		d.Last = &last
	}
	return d
}

// flushDispositions sends every session's coalesced dispositions.
func (c *Conn) flushDispositions() {
	type out struct {
		ch uint16
		d  *Disposition
	}
	var outs []out
	c.mu.Lock()
	for _, s := range c.sessions {
		if d := s.takeDispositionLocked(); d != nil {
			outs = append(outs, out{s.ourCh, d})
		}
	}
	c.mu.Unlock()
	for _, o := range outs {
		c.send(o.ch, o.d, nil)
	}
}

func (s *session) onDisposition(d *Disposition) error {
	c := s.c
	if d.Role != RoleReceiver {
		// The peer, as sender, settles deliveries it sent us; we settle on receipt
		// already, so there is nothing to do.
		return nil
	}
	last := d.First
	if d.Last != nil {
		last = *d.Last
	}
	if last-d.First > 1<<20 {
		return connErr(ErrInvalidField, "disposition range %d..%d", d.First, last)
	}
	type item struct {
		od *OutDelivery
	}
	var items []item
	c.mu.Lock()
	for id := d.First; ; id++ {
		if od := s.unsettled[id]; od != nil {
			if d.Settled {
				delete(s.unsettled, id)
				od.settled = true
			}
			items = append(items, item{od})
		}
		if id == last {
			break
		}
	}
	c.mu.Unlock()
	for _, it := range items {
		reply := c.h.Disposition(it.od.Link, it.od, d.State, d.Settled)
		if d.Settled || reply == nil {
			continue
		}
		c.mu.Lock()
		delete(s.unsettled, it.od.ID)
		it.od.settled = true
		c.mu.Unlock()
		c.send(s.ourCh, &Disposition{Role: RoleSender, First: it.od.ID, Settled: true, State: reply}, nil)
	}
	return nil
}

func (s *session) onDetach(d *Detach) error {
	c := s.c
	c.mu.Lock()
	l := s.links[d.Handle]
	if l == nil {
		c.mu.Unlock()
		return connErr(ErrSessionUnattached, "detach for unattached handle %d", d.Handle)
	}
	alreadyDetaching := l.detaching
	pending := l.pendingAttach
	l.pendingAttach = nil
	unsent := l.detachLocked()
	c.mu.Unlock()
	if pending != nil {
		// The peer gave up before we answered its attach: answer it (with a
		// null terminus) so the detach that follows refers to an attached link.
		reply := &Attach{Name: pending.Name, Handle: l.handle, Role: l.Role}
		if l.Role == RoleSender {
			reply.Target = pending.Target
		} else {
			reply.Source = pending.Source
		}
		c.send(s.ourCh, reply, nil)
	}
	if !alreadyDetaching {
		c.send(s.ourCh, &Detach{Handle: l.handle, Closed: d.Closed}, nil)
	}
	c.h.Detached(l, unsent)
	return nil
}

// pumpLocked sends queued deliveries while links have credit and the peer's
// session window has room.
func (s *session) pumpLocked() {
	for len(s.ready) > 0 && s.remoteIncomingWindow > 0 {
		progressed := false
		keep := s.ready[:0]
		for _, l := range s.ready {
			for len(l.queue) > 0 && l.credit > 0 && s.remoteIncomingWindow > 0 && !l.detached {
				s.transferLocked(l, l.queue[0])
				l.queue[0] = nil
				l.queue = l.queue[1:]
				progressed = true
			}
			if len(l.queue) > 0 && !l.detached {
				keep = append(keep, l)
			} else {
				l.inReady = false
			}
		}
		s.ready = keep
		if !progressed {
			break
		}
	}
}

// transferLocked sends one delivery, split into frames that fit the peer's
// maximum frame size.
func (s *session) transferLocked(l *Link, d *OutDelivery) {
	c := s.c
	d.ID = s.nextOutgoingID
	s.nextOutgoingID++
	l.deliveryCount++
	l.credit--
	settled := d.PreSettled
	if !settled {
		s.unsettled[d.ID] = d
	}
	// Room for the frame header and a transfer performative with a 32-byte tag.
	chunk := int(c.peerMaxFrame) - 8 - 96
	payload := d.Payload
	id := d.ID
	format := d.Format
	for first := true; ; first = false {
		n := min(chunk, len(payload))
		more := n < len(payload)
		t := &Transfer{Handle: l.handle, DeliveryID: &id, More: more}
		if first {
			t.DeliveryTag = d.Tag
			t.MessageFormat = &format
			t.Settled = &settled
		}
		c.send(s.ourCh, t, payload[:n])
		if s.remoteIncomingWindow > 0 {
			s.remoteIncomingWindow--
		}
		payload = payload[n:]
		if !more {
			break
		}
	}
	d.Payload = nil
}
