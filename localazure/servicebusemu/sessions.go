package servicebusemu

import (
	"time"

	"github.com/contoso/orderflow/localazure/amqp"
)

// Message sessions (RequiresSession): a receiver locks one session id and gets
// only that session's messages, in order, while it holds the lock.

const (
	sessionFilterName = amqp.Symbol("com.microsoft:session-filter")
	propLockedUntil   = amqp.Symbol("com.microsoft:locked-until-utc")
	propTimeout       = amqp.Symbol("com.microsoft:timeout")
	// epochTicks is 1970-01-01 in .NET ticks (100 ns since 0001-01-01).
	epochTicks = 621355968000000000
	// maxAcceptWait bounds how long an accept-next-session attach waits.
	maxAcceptWait = 60 * time.Second
)

func toTicks(t time.Time) int64 { return t.UnixMilli()*10000 + epochTicks }

// sbSession is the broker-side state of one session id.
type sbSession struct {
	id          string
	holder      *consumer
	lockedUntil time.Time
	state       []byte
	updated     time.Time
}

func (ss *sbSession) lockedBy(now time.Time) *consumer {
	if ss.holder != nil && now.Before(ss.lockedUntil) {
		return ss.holder
	}
	return nil
}

// sessionWaiter is an accept-next-session attach waiting for a session.
type sessionWaiter struct {
	c        *consumer
	deadline time.Time
	timer    *time.Timer
}

func (s *entity) sessionLocked(id string) *sbSession {
	ss := s.sessions[id]
	if ss == nil {
		ss = &sbSession{id: id}
		s.sessions[id] = ss
	}
	return ss
}

// lockSessionLocked gives session ss to c and prepares the attach answer.
func (s *entity) lockSessionLocked(ss *sbSession, c *consumer, now time.Time) {
	ss.holder = c
	ss.lockedUntil = now.Add(s.set.lockDuration)
	c.session = ss
	src := &amqp.Source{}
	if orig := c.link.Source; orig != nil {
		*src = *orig
	}
	filter := make(map[any]any, len(src.Filter)+1)
	for k, v := range src.Filter {
		filter[k] = v
	}
	key := c.sessionReq.key
	if key == nil {
		key = sessionFilterName
	}
	filter[key] = c.sessionReq.answer(ss.id)
	src.Filter = filter
	c.link.ReplySource = src
	c.link.ReplyProperties = map[any]any{propLockedUntil: toTicks(ss.lockedUntil)}
}

// acceptSession handles a session receiver's attach: a named session is locked
// at once (or refused if another receiver holds it); for the next available
// session the attach waits until one has messages, up to the client's timeout.
func (s *entity) acceptSession(c *consumer, id *string, wait time.Duration) *amqp.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if id != nil {
		ss := s.sessionLocked(*id)
		if holder := ss.lockedBy(now); holder != nil && holder != c {
			return &amqp.Error{Condition: "com.microsoft:session-cannot-be-locked",
				Description: "The requested session '" + *id + "' cannot be accepted. It may be locked by another receiver."}
		}
		s.lockSessionLocked(ss, c, now)
		s.consumers = append(s.consumers, c)
		return nil
	}
	if ss := s.nextFreeSessionLocked(now); ss != nil {
		s.lockSessionLocked(ss, c, now)
		s.consumers = append(s.consumers, c)
		return nil
	}
	if wait <= 0 || wait > maxAcceptWait {
		wait = maxAcceptWait
	}
	// Answer a little before the client's timeout: clients give up at their own
	// deadline only milliseconds later, and the answer must beat it.
	wait -= min(wait/10, 200*time.Millisecond)
	w := &sessionWaiter{c: c, deadline: now.Add(wait)}
	s.waiters = append(s.waiters, w)
	w.timer = time.AfterFunc(wait, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.timeoutWaiterLocked(w)
	})
	return amqp.AttachLater
}

// timeoutWaiterLocked refuses a waiting accept-next-session attach, if it is still waiting.
func (s *entity) timeoutWaiterLocked(w *sessionWaiter) {
	for i, x := range s.waiters {
		if x == w {
			s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
			w.c.link.CompleteAttach(&amqp.Error{Condition: "com.microsoft:timeout",
				Description: "No unlocked session with messages became available in time."})
			return
		}
	}
}

// nextFreeSessionLocked finds the unlocked session with the oldest available message.
func (s *entity) nextFreeSessionLocked(now time.Time) *sbSession {
	for _, m := range s.avail[s.availHead:] {
		if !m.inAvail {
			continue
		}
		ss := s.sessionLocked(m.data.sessionID)
		if ss.lockedBy(now) == nil {
			return ss
		}
	}
	return nil
}

// serveWaitersLocked hands free sessions to waiting accept-next-session attaches.
func (s *entity) serveWaitersLocked(now time.Time) {
	for len(s.waiters) > 0 {
		w := s.waiters[0]
		if w.c.link.Detached() {
			w.timer.Stop()
			s.waiters = s.waiters[1:]
			continue
		}
		ss := s.nextFreeSessionLocked(now)
		if ss == nil {
			return
		}
		s.waiters = s.waiters[1:]
		w.timer.Stop()
		s.lockSessionLocked(ss, w.c, now)
		s.consumers = append(s.consumers, w.c)
		w.c.link.CompleteAttach(nil)
	}
}

// compactAvailLocked drops the slots of messages taken from the middle of the
// available list (session receivers take their session's messages wherever
// they are), once they are the majority.
func (s *entity) compactAvailLocked() {
	for s.availHead < len(s.avail) && !s.avail[s.availHead].inAvail {
		s.avail[s.availHead] = nil
		s.availHead++
	}
	q := s.avail[s.availHead:]
	if len(q) < 1024 {
		return
	}
	live := 0
	for _, m := range q {
		if m.inAvail {
			live++
		}
	}
	if live*2 > len(q) {
		return
	}
	keep := make([]*message, 0, live+live/2)
	for _, m := range q {
		if m.inAvail {
			keep = append(keep, m)
		}
	}
	s.avail, s.availHead = keep, 0
}

// sweepSessionsLocked ends expired session locks and serves waiting attaches.
func (s *entity) sweepSessionsLocked(now time.Time) {
	s.compactAvailLocked()
	for _, ss := range s.sessions {
		if ss.holder != nil && !now.Before(ss.lockedUntil) {
			ss.holder.refused = true
			ss.holder.link.Detach(&amqp.Error{Condition: "com.microsoft:session-lock-lost",
				Description: "The session lock has expired on the session '" + ss.id + "'."})
			ss.holder = nil
		}
	}
	s.serveWaitersLocked(now)
}

// releaseSessionLocked frees the session c held, when its link goes.
func (s *entity) releaseSessionLocked(c *consumer, now time.Time) {
	for i, w := range s.waiters {
		if w.c == c {
			w.timer.Stop()
			s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
			break
		}
	}
	if c.session != nil && c.session.holder == c {
		c.session.holder = nil
	}
	s.serveWaitersLocked(now)
}

// dispatchSessionLocked sends c up to room messages of its session, oldest first.
func (s *entity) dispatchSessionLocked(c *consumer, room int, now time.Time) {
	if c.session == nil || c.session.lockedBy(now) != c {
		return
	}
	for i := s.availHead; i < len(s.avail) && room > 0; i++ {
		m := s.avail[i]
		if !m.inAvail || m.data.sessionID != c.session.id {
			continue
		}
		// Leave the slot; popAvailLocked skips messages no longer available.
		m.inAvail = false
		if !m.expires.IsZero() && !now.Before(m.expires) {
			s.expireLocked(m, now)
			continue
		}
		if err := s.deliverLocked(c, m, now); err != nil {
			s.pushAvailLocked(m)
			return
		}
		room--
	}
}

// session management operations.

func (s *entity) renewSession(id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	ss := s.sessions[id]
	if ss == nil || ss.lockedBy(now) == nil {
		return time.Time{}, false
	}
	ss.lockedUntil = now.Add(s.set.lockDuration)
	return ss.lockedUntil, true
}

func (s *entity) sessionState(id string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[id]
	if ss == nil || ss.lockedBy(time.Now()) == nil {
		return nil, false
	}
	return ss.state, true
}

func (s *entity) setSessionState(id string, state []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[id]
	if ss == nil || ss.lockedBy(time.Now()) == nil {
		return false
	}
	ss.state = nil
	if state != nil {
		ss.state = append([]byte(nil), state...)
	}
	ss.updated = time.Now()
	s.b.persistSessionState(s, id, ss.state)
	return true
}

// messageSessions lists sessions with messages or state, as get-message-sessions does.
func (s *entity) messageSessions(updatedAfter time.Time, listActive bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	if listActive {
		for _, m := range s.all {
			if !m.gone && !seen[m.data.sessionID] {
				seen[m.data.sessionID] = true
				out = append(out, m.data.sessionID)
			}
		}
	}
	for id, ss := range s.sessions {
		if seen[id] || ss.state == nil {
			continue
		}
		if listActive || ss.updated.After(updatedAfter) {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
