package servicebusemu

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/contoso/orderflow/localazure/amqp"
)

// message is one message in a queue, a subscription or a dead-letter queue.
// Fields are guarded by the owning store's mutex.
type message struct {
	data          *msgData
	seq           int64
	enqueued      time.Time
	expires       time.Time // zero = never
	deliveryCount uint32

	deferred       bool
	scheduledState bool
	scheduledAt    time.Time
	inAvail        bool
	gone           bool

	lockToken   amqp.UUID
	locked      bool
	lockedUntil time.Time
	lockHolder  *consumer

	dlSource string
}

// consumer is a receiving link attached to a store.
type consumer struct {
	link     *amqp.Link
	peekLock bool
	// authUntil is when the token that allowed the link expires; reauth checks
	// again for a refreshed token. Guarded by the store's mutex.
	authUntil time.Time
	reauth    func() (time.Time, *amqp.Error)
	refused   bool
	session   *sbSession // the session a session receiver holds
	// sessionReq is a session receiver's filter, for the attach's answer.
	sessionReq sessionRequest
}

// lockRef ties a delivery to the lock it carried, so a settlement after the lock
// moved on is recognised as lock-lost.
type lockRef struct {
	s     *entity
	m     *message
	token amqp.UUID
}

// entity holds the messages of a queue, a subscription or a dead-letter queue: what
// Service Bus calls a messaging entity (a DLQ is a sub-entity of its parent).
type entity struct {
	b      *Broker
	name   string // as the client names it: "orders", "t/Subscriptions/s", ".../$DeadLetterQueue"
	source string // x-opt-deadletter-source for messages dead-lettered from here
	set    entitySettings
	dlq    *entity
	// scope is the RBAC scope receivers need: servicebus/<queue> or
	// servicebus/<topic>/subscriptions/<sub> (shared by the DLQ).
	scope string

	mu          sync.Mutex
	nextSeq     int64
	all         []*message // by seq, gone ones pending compaction
	goneCount   int
	avail       []*message // available messages, by seq, from availHead
	availHead   int
	live        int                // messages held (not gone)
	sched       map[int64]*message // scheduled, not yet active
	locks       map[amqp.UUID]*message
	consumers   []*consumer
	rr          int
	dup         map[string]time.Time
	sessions    map[string]*sbSession // RequiresSession entities: by session id
	waiters     []*sessionWaiter      // accept-next-session attaches not yet answered
	expiring    int                   // messages with an expiry, so the sweeper knows whether to look
	lastTTLScan time.Time
}

func newStore(b *Broker, name, source, scope string, set entitySettings, withDLQ bool) *entity {
	s := &entity{b: b, name: name, source: source, scope: scope, set: set, nextSeq: 1,
		sched: map[int64]*message{}, locks: map[amqp.UUID]*message{}, dup: map[string]time.Time{},
		sessions: map[string]*sbSession{}}
	if withDLQ {
		s.dlq = &entity{b: b, name: name + "/$DeadLetterQueue", source: source, scope: scope, nextSeq: 1,
			set:   entitySettings{lockDuration: set.lockDuration, maxDeliveryCount: ^uint32(0)},
			sched: map[int64]*message{}, locks: map[amqp.UUID]*message{}, dup: map[string]time.Time{},
			sessions: map[string]*sbSession{}}
	}
	return s
}

// isDuplicateLocked records id and reports whether it was seen within the window.
func isDuplicate(dup map[string]time.Time, set entitySettings, id string, now time.Time) bool {
	if !set.dupDetection || id == "" {
		return false
	}
	if seen, ok := dup[id]; ok && now.Sub(seen) < set.dupWindow {
		return true
	}
	dup[id] = now
	return false
}

// enqueue adds a message sent to this queue or subscription. seq < 0 assigns a
// new sequence number.
func (s *entity) enqueue(d *msgData, now time.Time) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enqueueLocked(d, now, -1, true)
}

func (s *entity) enqueueLocked(d *msgData, now time.Time, seq int64, allowSchedule bool) int64 {
	if seq < 0 {
		seq = s.nextSeq
		s.nextSeq++
	} else if seq >= s.nextSeq {
		s.nextSeq = seq + 1
	}
	m := &message{data: d, seq: seq, enqueued: now}
	ttl := d.ttl
	if s.set.ttl > 0 && (ttl == 0 || s.set.ttl < ttl) {
		ttl = s.set.ttl
	}
	if ttl > 0 {
		m.expires = now.Add(ttl)
		s.expiring++
	}
	if allowSchedule && !d.scheduled.IsZero() && d.scheduled.After(now) {
		m.scheduledState = true
		m.scheduledAt = d.scheduled
		if ttl > 0 {
			m.expires = d.scheduled.Add(ttl)
		}
	}
	s.insertAllLocked(m)
	s.live++
	s.b.persistPut(s, m)
	if m.scheduledState {
		s.sched[seq] = m
	} else {
		s.pushAvailLocked(m)
		s.dispatchLocked(now)
		if len(s.waiters) > 0 {
			s.serveWaitersLocked(now)
		}
	}
	return seq
}

func (s *entity) insertAllLocked(m *message) {
	n := len(s.all)
	if n == 0 || s.all[n-1].seq < m.seq {
		s.all = append(s.all, m)
		return
	}
	i := sort.Search(n, func(i int) bool { return s.all[i].seq >= m.seq })
	s.all = append(s.all, nil)
	copy(s.all[i+1:], s.all[i:])
	s.all[i] = m
}

// pushAvailLocked makes m available, keeping sequence order (a message coming
// back from a lock goes before later ones, as Service Bus redelivers it first).
func (s *entity) pushAvailLocked(m *message) {
	m.inAvail = true
	q := s.avail[s.availHead:]
	n := len(q)
	if n == 0 || q[n-1].seq < m.seq {
		s.avail = append(s.avail, m)
		return
	}
	if s.availHead > 0 && q[0].seq > m.seq {
		s.availHead--
		s.avail[s.availHead] = m
		return
	}
	i := s.availHead + sort.Search(n, func(i int) bool { return q[i].seq >= m.seq })
	s.avail = append(s.avail, nil)
	copy(s.avail[i+1:], s.avail[i:])
	s.avail[i] = m
}

func (s *entity) popAvailLocked() *message {
	for s.availHead < len(s.avail) {
		m := s.avail[s.availHead]
		s.avail[s.availHead] = nil
		s.availHead++
		if s.availHead > 1024 && s.availHead*2 > len(s.avail) {
			n := copy(s.avail, s.avail[s.availHead:])
			clear(s.avail[n:])
			s.avail = s.avail[:n]
			s.availHead = 0
		}
		if m.inAvail {
			m.inAvail = false
			return m
		}
	}
	return nil
}

func (s *entity) availLen() int { return len(s.avail) - s.availHead }

// removeLocked forgets m entirely.
func (s *entity) removeLocked(m *message) {
	if m.gone {
		return
	}
	m.gone = true
	m.inAvail = false
	s.b.persistRemove(s, m)
	if m.locked {
		delete(s.locks, m.lockToken)
		m.locked = false
	}
	if !m.expires.IsZero() {
		s.expiring--
	}
	if m.scheduledState {
		delete(s.sched, m.seq)
	}
	s.live--
	s.goneCount++
	if s.goneCount > 256 && s.goneCount*2 > len(s.all) {
		keep := s.all[:0]
		for _, x := range s.all {
			if !x.gone {
				keep = append(keep, x)
			}
		}
		clear(s.all[len(keep):])
		s.all = keep
		s.goneCount = 0
	}
}

// addConsumer attaches a receiving link.
func (s *entity) addConsumer(c *consumer) {
	s.mu.Lock()
	s.consumers = append(s.consumers, c)
	s.mu.Unlock()
}

// removeConsumer detaches a receiving link; unsent deliveries go back unlocked
// without counting as a delivery attempt, and a session it held is free again.
func (s *entity) removeConsumer(gone *consumer, unsent []*amqp.OutDelivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range s.consumers {
		if c == gone {
			s.consumers = append(s.consumers[:i], s.consumers[i+1:]...)
			break
		}
	}
	now := time.Now()
	s.releaseSessionLocked(gone, now)
	for _, od := range unsent {
		ref, ok := od.Value.(*lockRef)
		if !ok {
			continue
		}
		if ref.m.locked && ref.m.lockToken == ref.token {
			s.unlockLocked(ref.m)
			s.returnLocked(ref.m, now)
		}
	}
	s.dispatchLocked(now)
}

// dispatch hands available messages to consumers with credit.
func (s *entity) dispatch() {
	s.mu.Lock()
	s.dispatchLocked(time.Now())
	s.mu.Unlock()
}

func (s *entity) dispatchLocked(now time.Time, skip ...*consumer) {
	n := len(s.consumers)
	if n == 0 || s.availLen() == 0 {
		return
	}
	for i := 0; i < n && s.availLen() > 0; i++ {
		c := s.consumers[(s.rr+i)%n]
		if len(skip) > 0 && c == skip[0] {
			continue
		}
		if !s.authorizedLocked(c, now) {
			continue
		}
		room := c.link.Available()
		if s.set.requiresSession {
			s.dispatchSessionLocked(c, room, now)
			continue
		}
		for room > 0 {
			m := s.popAvailLocked()
			if m == nil {
				break
			}
			if !m.expires.IsZero() && !now.Before(m.expires) {
				s.expireLocked(m, now)
				continue
			}
			if err := s.deliverLocked(c, m, now); err != nil {
				s.pushAvailLocked(m)
				break
			}
			room--
		}
	}
	s.rr++
}

// authorizedLocked checks that the consumer's token is still valid: Service Bus
// stops a link whose token expired without being renewed.
func (s *entity) authorizedLocked(c *consumer, now time.Time) bool {
	if c.refused {
		return false
	}
	if c.reauth == nil || now.Before(c.authUntil) {
		return true
	}
	until, e := c.reauth()
	if e != nil {
		c.refused = true
		// Detach outside any path that holds the connection's lock: Detach only
		// queues a frame, and the consumer goes when the client answers.
		c.link.Detach(e)
		return false
	}
	c.authUntil = until
	return true
}

// deliverLocked sends m to c, locking it for a peek-lock receiver.
func (s *entity) deliverLocked(c *consumer, m *message, now time.Time) error {
	var until time.Time
	token := newLockToken()
	if c.peekLock {
		until = now.Add(s.set.lockDuration)
	}
	payload, err := encodeDelivered(m, until, nil)
	if err != nil {
		s.b.log.Error("encoding a message for delivery; dropping it", "entity", s.name, "seq", m.seq, "err", err)
		s.removeLocked(m)
		return nil
	}
	od := &amqp.OutDelivery{Tag: dotnetGUID(token), Payload: payload, PreSettled: !c.peekLock}
	if c.peekLock {
		m.locked, m.lockToken, m.lockedUntil, m.lockHolder = true, token, until, c
		s.locks[token] = m
		od.Value = &lockRef{s: s, m: m, token: token}
	}
	if err := c.link.Send(od); err != nil {
		if c.peekLock {
			s.unlockLocked(m)
		}
		return err
	}
	if !c.peekLock {
		s.removeLocked(m)
	}
	return nil
}

func (s *entity) unlockLocked(m *message) {
	if m.locked {
		delete(s.locks, m.lockToken)
		m.locked = false
		m.lockHolder = nil
	}
}

// returnLocked puts an unlocked message back where it belongs.
func (s *entity) returnLocked(m *message, now time.Time) {
	if m.gone {
		return
	}
	if m.deferred {
		return
	}
	s.pushAvailLocked(m)
}

// outcome of a settlement.
type settleResult int

const (
	settled settleResult = iota
	lockLost
	notFound
)

// lookupLocked finds a locked message by token.
func (s *entity) lookupLocked(token amqp.UUID) *message {
	m := s.locks[token]
	if m == nil || !m.locked || m.gone {
		return nil
	}
	return m
}

// complete removes a locked message.
func (s *entity) complete(token amqp.UUID) settleResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.lookupLocked(token)
	if m == nil {
		return lockLost
	}
	s.removeLocked(m)
	return settled
}

// abandon unlocks a message; counted says whether the attempt counts towards
// MaxDeliveryCount (released deliveries never reached the application).
func (s *entity) abandon(token amqp.UUID, counted bool, props map[any]any) settleResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.lookupLocked(token)
	if m == nil {
		return lockLost
	}
	now := time.Now()
	holder := m.lockHolder
	s.unlockLocked(m)
	mergeModified(m, props)
	if counted {
		s.attemptFailedLocked(m, now)
		s.dispatchLocked(now, nil)
	} else {
		// A released message was not wanted by that receiver right now (clients
		// release what arrives between their receive calls): offer it to the
		// others first, so it does not bounce on the same link. The sweeper
		// offers it to everyone again shortly.
		if len(props) > 0 {
			s.b.persistPut(s, m)
		}
		s.returnLocked(m, now)
		s.dispatchLocked(now, holder)
	}
	return settled
}

// mergeModified applies the properties-to-modify of an abandon or defer: Service
// Bus updates the message's application properties with them.
func mergeModified(m *message, props map[any]any) {
	if len(props) == 0 {
		return
	}
	extra := make(map[string]any, len(props))
	for k, v := range props {
		switch k := k.(type) {
		case string:
			extra[k] = v
		case amqp.Symbol:
			extra[string(k)] = v
		}
	}
	m.data = m.data.withAppProps(extra)
}

// attemptFailedLocked counts a delivery attempt and dead-letters the message
// once MaxDeliveryCount attempts have failed.
func (s *entity) attemptFailedLocked(m *message, now time.Time) {
	m.deliveryCount++
	if s.dlq != nil && m.deliveryCount >= s.set.maxDeliveryCount {
		s.deadLetterLocked(m, "MaxDeliveryCountExceeded",
			fmt.Sprintf("Message could not be consumed after %d delivery attempts.", s.set.maxDeliveryCount), now)
		return
	}
	s.b.persistPut(s, m)
	s.returnLocked(m, now)
}

// deferMsg sets a locked message aside until received by sequence number.
func (s *entity) deferMsg(token amqp.UUID, props map[any]any) settleResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.lookupLocked(token)
	if m == nil {
		return lockLost
	}
	s.unlockLocked(m)
	mergeModified(m, props)
	m.deferred = true
	m.deliveryCount++
	s.b.persistPut(s, m)
	return settled
}

// deadLetter moves a locked message to the dead-letter queue.
func (s *entity) deadLetter(token amqp.UUID, reason, desc string) settleResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.lookupLocked(token)
	if m == nil {
		return lockLost
	}
	if s.dlq == nil {
		// Dead-lettering from the dead-letter queue is not allowed by Service Bus.
		return notFound
	}
	s.deadLetterLocked(m, reason, desc, time.Now())
	return settled
}

// deadLetterLocked moves m to the DLQ (or where ForwardDeadLetteredMessagesTo points).
func (s *entity) deadLetterLocked(m *message, reason, desc string, now time.Time) {
	s.removeLocked(m)
	extra := map[string]any{}
	if reason != "" {
		extra[propDLReason] = reason
	}
	if desc != "" {
		extra[propDLDescription] = desc
	}
	d := m.data
	if len(extra) > 0 {
		d = m.data.withAppProps(extra)
	}
	if s.set.forwardDLQTo != "" {
		// Forwarding runs without this store's lock held elsewhere: the target is
		// a different entity, and stores never lock each other in the other order.
		go s.b.forward(s, s.set.forwardDLQTo, d)
		return
	}
	if s.dlq == nil {
		return
	}
	dm := &message{data: d, seq: m.seq, enqueued: m.enqueued, deliveryCount: m.deliveryCount, dlSource: s.source}
	dl := s.dlq
	// The DLQ has its own lock; it is only ever taken after its parent's.
	dl.mu.Lock()
	dl.insertAllLocked(dm)
	dl.live++
	if dm.seq >= dl.nextSeq {
		dl.nextSeq = dm.seq + 1
	}
	dl.pushAvailLocked(dm)
	s.b.persistPut(dl, dm)
	dl.dispatchLocked(now)
	dl.mu.Unlock()
}

// expireLocked handles a message whose time to live ran out.
func (s *entity) expireLocked(m *message, now time.Time) {
	if s.set.dlqOnExpiry && s.dlq != nil {
		s.deadLetterLocked(m, "TTLExpiredException", "The message expired and was dead lettered.", now)
		return
	}
	s.removeLocked(m)
}

// renew extends a lock.
func (s *entity) renew(token amqp.UUID) (time.Time, settleResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.lookupLocked(token)
	if m == nil {
		return time.Time{}, lockLost
	}
	m.lockedUntil = time.Now().Add(s.set.lockDuration)
	return m.lockedUntil, settled
}

// sweep expires locks, activates scheduled messages and drops expired ones.
func (s *entity) sweep(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for _, m := range s.locks {
		if now.After(m.lockedUntil) {
			s.unlockLocked(m)
			s.attemptFailedLocked(m, now)
			changed = true
		}
	}
	for seq, m := range s.sched {
		if !now.Before(m.scheduledAt) {
			delete(s.sched, seq)
			m.scheduledState = false
			m.enqueued = now
			s.b.persistPut(s, m)
			s.pushAvailLocked(m)
			changed = true
		}
	}
	if s.expiring > 0 && now.Sub(s.lastTTLScan) >= time.Second {
		// Expired messages are also dropped when they reach the head of the
		// queue; this scan, at most once a second, catches the ones behind.
		s.lastTTLScan = now
		for _, m := range s.all {
			if m.gone || m.expires.IsZero() || now.Before(m.expires) || m.locked || m.scheduledState {
				continue
			}
			s.expireLocked(m, now)
		}
	}
	for id, t := range s.dup {
		if now.Sub(t) > s.set.dupWindow {
			delete(s.dup, id)
		}
	}
	if s.set.requiresSession {
		s.sweepSessionsLocked(now)
	}
	if changed || (s.availLen() > 0 && len(s.consumers) > 0) {
		s.dispatchLocked(now)
	}
}

// peek returns up to n messages from seq on, in sequence order, without locking them.
func (s *entity) peek(from int64, n int) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.all), func(i int) bool { return s.all[i].seq >= from })
	now := time.Now()
	var out [][]byte
	for ; i < len(s.all) && len(out) < n; i++ {
		m := s.all[i]
		if m.gone {
			continue
		}
		// A locked message is peeked with its lock's expiry, as Service Bus reports it
		// (x-opt-locked-until), so a peek shows which messages a receiver holds.
		var lockedUntil time.Time
		if m.locked && now.Before(m.lockedUntil) {
			lockedUntil = m.lockedUntil
		}
		b, err := encodeDelivered(m, lockedUntil, nil)
		if err != nil {
			continue
		}
		out = append(out, b)
	}
	return out
}

// receiveDeferred locks deferred messages by sequence number.
func (s *entity) receiveDeferred(seqs []int64, peekLock bool) ([][]byte, []amqp.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var out [][]byte
	var tokens []amqp.UUID
	for _, seq := range seqs {
		m := s.findLocked(seq)
		if m == nil || !m.deferred || m.locked {
			continue
		}
		token := newLockToken()
		var until time.Time
		if peekLock {
			until = now.Add(s.set.lockDuration)
		}
		b, err := encodeDelivered(m, until, map[any]any{amqp.Symbol(annLockToken): token})
		if err != nil {
			continue
		}
		if peekLock {
			m.locked, m.lockToken, m.lockedUntil = true, token, until
			s.locks[token] = m
		} else {
			s.removeLocked(m)
		}
		out = append(out, b)
		tokens = append(tokens, token)
	}
	return out, tokens
}

// cancelScheduled removes scheduled messages; unknown numbers are ignored.
func (s *entity) cancelScheduled(seqs []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seq := range seqs {
		if m := s.sched[seq]; m != nil {
			s.removeLocked(m)
		}
	}
}

// count reports the number of messages held (for tests and diagnostics).
func (s *entity) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

// findLocked finds a live message by sequence number.
func (s *entity) findLocked(seq int64) *message {
	i := sort.Search(len(s.all), func(i int) bool { return s.all[i].seq >= seq })
	if i < len(s.all) && s.all[i].seq == seq && !s.all[i].gone {
		return s.all[i]
	}
	return nil
}

// send accepts a message sent to this queue: duplicate detection, then
// auto-forwarding or enqueueing.
func (s *entity) send(d *msgData, now time.Time) {
	if s.set.dupDetection {
		s.mu.Lock()
		dup := isDuplicate(s.dup, s.set, d.messageID, now)
		s.mu.Unlock()
		if dup {
			return
		}
	}
	if s.set.forwardTo != "" {
		s.b.forward(s, s.set.forwardTo, d)
		return
	}
	s.enqueue(d, now)
}
