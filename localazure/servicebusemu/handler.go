package servicebusemu

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/contoso/orderflow/localazure/amqp"
)

// linkKind tells what a link is for.
type linkKind int

const (
	kindCBSRequest  linkKind = iota // client -> $cbs
	kindReply                       // $cbs or $management -> client (reply-to)
	kindMgmtRequest                 // client -> <entity>/$management
	kindSend                        // client -> queue or topic
	kindReceive                     // queue, subscription or DLQ -> client
)

type linkState struct {
	kind linkKind
	// node names the request-response node of a request or reply link: "$cbs"
	// or "<entity>/$management".
	node   string
	ref    entityRef
	entity *entity
	cons   *consumer
	// authUntil is when the token that allowed a sending link expires; a
	// transfer after it needs a refreshed token (clients put one before expiry).
	authUntil time.Time
}

// connHandler is the broker's view of one client connection: the tokens put on
// it and the links that carry replies.
type connHandler struct {
	b *Broker
	c *amqp.Conn

	mu     sync.Mutex
	grants []grant
	// lastRefusal is the description of the last put-token refused on this
	// connection, for the attach error of a link that has no token.
	lastRefusal string
	replies     map[string]*amqp.Link // by target address and by link name
	// replyLinks are the reply links in attach order, for requests without reply-to.
	replyLinks []*amqp.Link
	tagSeq     atomic.Uint64
}

func newConnHandler(b *Broker, c *amqp.Conn) *connHandler {
	return &connHandler{b: b, c: c, replies: map[string]*amqp.Link{}}
}

func entityNotFound(addr string) *amqp.Error {
	return &amqp.Error{Condition: amqp.ErrNotFound,
		Description: fmt.Sprintf("The messaging entity '%s' could not be found. To know more visit https://aka.ms/sbResourceMgrExceptions.", addr)}
}

// authorize checks that a token put on this connection grants r on the entity.
func (h *connHandler) authorize(r right, p, scope string) *amqp.Error {
	_, e := h.authorizeUntil(r, p, scope)
	return e
}

// authorizeUntil is authorize that also tells until when the allowing token is valid.
func (h *connHandler) authorizeUntil(r right, p, scope string) (time.Time, *amqp.Error) {
	now := time.Now()
	h.mu.Lock()
	grants, refusal := h.grants, h.lastRefusal
	h.mu.Unlock()
	haveToken := false
	var until time.Time
	for _, g := range grants {
		if now.After(g.expires) || !covers(g.audience, p) {
			continue
		}
		haveToken = true
		if h.b.allows(g, r, p, scope, now) && g.expires.After(until) {
			until = g.expires
		}
	}
	if !until.IsZero() {
		return until, nil
	}
	if !haveToken {
		return until, noToken(p, refusal)
	}
	return until, &amqp.Error{Condition: amqp.ErrUnauthorized,
		Description: fmt.Sprintf("Unauthorized access. '%s' claim(s) are required to perform this operation. Resource: '%s'.", r, p)}
}

// Attach routes a new link: $cbs, an entity's $management node, or an entity.
func (h *connHandler) Attach(l *amqp.Link) *amqp.Error {
	if l.Role == amqp.RoleReceiver {
		return h.attachIncoming(l)
	}
	return h.attachOutgoing(l)
}

// attachIncoming handles a link on which the client sends.
func (h *connHandler) attachIncoming(l *amqp.Link) *amqp.Error {
	if l.Target == nil || l.Target.Address == "" {
		return &amqp.Error{Condition: amqp.ErrInvalidField, Description: "the link has no target address"}
	}
	// The broker settles what it receives at once and says so (rcv-settle-mode
	// first), whatever the client asked for: Service Bus answers a sender that
	// requests second with first (https://github.com/Azure/azure-service-bus-go/issues/119
	// shows go-amqp meeting it), and clients then take the settled disposition as
	// the end of the send (AMQP 1.0 sections 2.6.12 and 2.7.3: the receiver's
	// attach carries the mode actually in use).
	l.RcvSettleMode = amqp.RcvFirst
	addr := l.Target.Address
	if strings.EqualFold(entityPath(addr), "$cbs") {
		l.Credit = 100
		l.Value = &linkState{kind: kindCBSRequest, node: cbsNode}
		return nil
	}
	ref, ok := h.b.resolve(addr)
	if !ok {
		return entityNotFound(addr)
	}
	if ref.mgmt {
		if e := h.requireToken(ref.path); e != nil {
			return e
		}
		l.Credit = 100
		l.MaxMessageSize = MaxMessageSize
		l.Value = &linkState{kind: kindMgmtRequest, ref: ref, node: mgmtNode(ref)}
		return nil
	}
	if ref.queue == nil && ref.topic == nil {
		return &amqp.Error{Condition: amqp.ErrNotAllowed,
			Description: fmt.Sprintf("Cannot send to '%s': messages can only be sent to queues and topics.", addr)}
	}
	until, e := h.authorizeUntil(rightSend, ref.path, ref.sendScope)
	if e != nil {
		return e
	}
	l.MaxMessageSize = MaxMessageSize
	l.Credit = 5000
	l.Value = &linkState{kind: kindSend, ref: ref, authUntil: until}
	return nil
}

// requireToken checks that some unexpired token covers p (for $management links,
// whose operations are then authorized one by one).
func (h *connHandler) requireToken(p string) *amqp.Error {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, g := range h.grants {
		if !now.After(g.expires) && covers(g.audience, p) {
			return nil
		}
	}
	return noToken(p, h.lastRefusal)
}

// noToken is the error for a link no token covers; refusal is the last put-token
// refused on the connection, if any, which is usually why.
func noToken(p, refusal string) *amqp.Error {
	desc := fmt.Sprintf("Unauthorized access. A valid token for '%s' was not put on the $cbs node of this connection.", p)
	if refusal != "" {
		desc += " The last put-token was refused: " + refusal
	}
	return &amqp.Error{Condition: amqp.ErrUnauthorized, Description: desc}
}

// attachOutgoing handles a link on which the client receives.
func (h *connHandler) attachOutgoing(l *amqp.Link) *amqp.Error {
	if l.Source == nil || l.Source.Address == "" {
		return &amqp.Error{Condition: amqp.ErrInvalidField, Description: "the link has no source address"}
	}
	addr := l.Source.Address
	isCBS := strings.EqualFold(entityPath(addr), "$cbs")
	ref, ok := h.b.resolve(addr)
	if isCBS || (ok && ref.mgmt) {
		node := cbsNode
		if !isCBS {
			node = mgmtNode(ref)
		}
		l.Value = &linkState{kind: kindReply, ref: ref, node: node}
		h.mu.Lock()
		if l.Target != nil && l.Target.Address != "" {
			h.replies[l.Target.Address] = l
		}
		h.replies[l.Name] = l
		h.replyLinks = append(h.replyLinks, l)
		h.mu.Unlock()
		return nil
	}
	if !ok {
		return entityNotFound(addr)
	}
	if ref.entity == nil {
		return &amqp.Error{Condition: amqp.ErrNotAllowed,
			Description: fmt.Sprintf("Cannot receive from topic '%s': receive from one of its subscriptions, '<topic>/Subscriptions/<name>'.", addr)}
	}
	sessionReq, sessionful, err := sessionRequestOf(l.Source.Filter)
	if err != nil {
		return &amqp.Error{Condition: amqp.ErrInvalidField, Description: err.Error()}
	}
	if sessionful != ref.entity.set.requiresSession {
		if sessionful {
			return &amqp.Error{Condition: amqp.ErrNotAllowed, Description: fmt.Sprintf(
				"It is not possible for an entity that does not require sessions to create a session receiver. Entity: '%s'.", addr)}
		}
		return &amqp.Error{Condition: amqp.ErrNotAllowed, Description: fmt.Sprintf(
			"It is not possible for an entity that requires sessions to create a non-sessionful message receiver. Entity: '%s'.", addr)}
	}
	until, e := h.authorizeUntil(rightListen, ref.path, ref.entity.scope)
	if e != nil {
		return e
	}
	cons := &consumer{link: l, peekLock: l.SndSettleMode != amqp.SndSettled, authUntil: until, sessionReq: sessionReq,
		reauth: func() (time.Time, *amqp.Error) { return h.authorizeUntil(rightListen, ref.path, ref.entity.scope) }}
	l.MaxMessageSize = MaxMessageSize
	l.Value = &linkState{kind: kindReceive, ref: ref, entity: ref.entity, cons: cons}
	if sessionful {
		return ref.entity.acceptSession(cons, sessionReq.id, time.Duration(toInt64(l.Properties[propTimeout]))*time.Millisecond)
	}
	ref.entity.addConsumer(cons)
	return nil
}

// Flow hands messages to a receiver that was given credit.
func (h *connHandler) Flow(l *amqp.Link) {
	if st, ok := l.Value.(*linkState); ok && st.kind == kindReceive {
		st.entity.dispatch()
	}
}

// Message handles what a client sent: a $cbs or $management request, or
// messages for a queue or topic.
func (h *connHandler) Message(l *amqp.Link, d *amqp.Delivery) amqp.DeliveryState {
	st, ok := l.Value.(*linkState)
	if !ok {
		return &amqp.Rejected{Error: &amqp.Error{Condition: amqp.ErrIllegalState, Description: "link was refused"}}
	}
	switch st.kind {
	case kindCBSRequest, kindMgmtRequest:
		return h.request(l, st, d)
	case kindSend:
		if time.Now().After(st.authUntil) {
			until, e := h.authorizeUntil(rightSend, st.ref.path, st.ref.sendScope)
			if e != nil {
				return &amqp.Rejected{Error: e}
			}
			st.authUntil = until // only the connection's reader goroutine touches it
		}
		return h.handleSend(st.ref, d)
	}
	return &amqp.Rejected{Error: &amqp.Error{Condition: amqp.ErrNotAllowed, Description: "this link does not accept messages"}}
}

// handleSend stores a message (or a batch) sent to a queue or topic. With a
// data directory the acceptance is left to the group commit, which settles d
// once the message's put records (one per store a topic fanned it out to) are
// fsynced; nil tells the connection that the settlement comes later.
func (h *connHandler) handleSend(ref entityRef, d *amqp.Delivery) amqp.DeliveryState {
	if p := h.b.persist; p != nil {
		if err := p.failed(); err != nil {
			// Refuse rather than accept what could not be made durable.
			return &amqp.Rejected{Error: &amqp.Error{Condition: amqp.ErrInternal,
				Description: "the broker could not write its data log: " + err.Error()}}
		}
	}
	var batch []*msgData
	if d.Format == amqp.BatchFormat {
		var outer amqp.Message
		if err := outer.Unmarshal(d.Payload); err != nil {
			return decodeRejected(err)
		}
		batch = make([]*msgData, 0, len(outer.Data))
		for _, raw := range outer.Data {
			md, err := parseMessage(raw)
			if err != nil {
				return decodeRejected(err)
			}
			batch = append(batch, md)
		}
	} else {
		md, err := parseMessage(d.Payload)
		if err != nil {
			return decodeRejected(err)
		}
		batch = []*msgData{md}
	}
	now := time.Now()
	if ref.queue != nil && ref.queue.set.requiresSession {
		for _, md := range batch {
			if md.sessionID == "" {
				return &amqp.Rejected{Error: &amqp.Error{Condition: amqp.ErrNotAllowed, Description: fmt.Sprintf(
					"The SessionId was not set on a message, and it cannot be sent to the entity '%s'. Entities that have session support enabled can only receive messages that have the SessionId set to a valid value.", ref.queue.name)}}
			}
		}
	}
	for _, md := range batch {
		if ref.queue != nil {
			ref.queue.send(md, now)
		} else {
			ref.topic.publish(md, now)
		}
	}
	if p := h.b.persist; p != nil && !d.Settled {
		// Last touch of d here: the committer may settle it at once.
		p.afterSync(waiter{d: d, ok: &amqp.Accepted{}})
		return nil
	}
	return &amqp.Accepted{}
}

func decodeRejected(err error) amqp.DeliveryState {
	return &amqp.Rejected{Error: &amqp.Error{Condition: amqp.ErrDecode, Description: err.Error()}}
}

// Disposition applies a receiver's settlement of a peek-locked message and
// answers as Service Bus does.
func (h *connHandler) Disposition(l *amqp.Link, od *amqp.OutDelivery, state amqp.DeliveryState, settled bool) amqp.DeliveryState {
	ref, ok := od.Value.(*lockRef)
	if !ok {
		return nil
	}
	lost := &amqp.Rejected{Error: &amqp.Error{Condition: "com.microsoft:message-lock-lost",
		Description: "The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue."}}
	var res settleResult
	var reply amqp.DeliveryState
	switch s := state.(type) {
	case *amqp.Accepted:
		res, reply = ref.s.complete(ref.token), &amqp.Accepted{}
	case *amqp.Released:
		res, reply = ref.s.abandon(ref.token, false, nil), s
	case *amqp.Modified:
		if s.UndeliverableHere {
			res = ref.s.deferMsg(ref.token, s.MessageAnnotations)
		} else {
			res = ref.s.abandon(ref.token, true, s.MessageAnnotations)
		}
		reply = s
	case *amqp.Rejected:
		reason, desc := "", ""
		if s.Error != nil {
			reason, _ = s.Error.Info[propDLReason].(string)
			if reason == "" {
				reason, _ = s.Error.Info[amqp.Symbol(propDLReason)].(string)
			}
			desc, _ = s.Error.Info[propDLDescription].(string)
			if desc == "" {
				desc, _ = s.Error.Info[amqp.Symbol(propDLDescription)].(string)
			}
		}
		res = ref.s.deadLetter(ref.token, reason, desc)
		// A bare rejected: echoing the error makes clients treat it as a failure.
		reply = &amqp.Rejected{}
	default:
		return nil // a non-terminal state
	}
	switch res {
	case lockLost:
		return lost
	case notFound:
		return &amqp.Rejected{Error: &amqp.Error{Condition: amqp.ErrNotAllowed,
			Description: "messages in a dead-letter queue cannot be dead-lettered"}}
	}
	_, released := state.(*amqp.Released)
	if p := h.b.persist; p != nil && !settled && !released {
		// The client waits for this answer (receive-settle-mode second): it goes
		// out from the committer once the remove or put record is fsynced, so a
		// completion the client saw never comes back after a crash. A release
		// records nothing and needs no wait.
		p.afterSync(waiter{od: od, reply: reply})
		return nil
	}
	return reply
}

// Detached forgets a link: a receiver's unsent messages go back to its entity.
func (h *connHandler) Detached(l *amqp.Link, unsent []*amqp.OutDelivery) {
	st, ok := l.Value.(*linkState)
	if !ok {
		return
	}
	switch st.kind {
	case kindReceive:
		st.entity.removeConsumer(st.cons, unsent)
	case kindReply:
		h.mu.Lock()
		for k, v := range h.replies {
			if v == l {
				delete(h.replies, k)
			}
		}
		h.replyLinks = slices.DeleteFunc(h.replyLinks, func(x *amqp.Link) bool { return x == l })
		h.mu.Unlock()
	}
}

// Closed forgets the connection.
func (h *connHandler) Closed(err error) {
	h.b.forgetConn(h.c)
}
