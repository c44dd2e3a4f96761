package servicebusemu

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/contoso/orderflow/localazure/amqp"
)

// persister keeps the messages of every queue, subscription and dead-letter
// queue in an append-only log in Options.DataDir, so that they survive a broker
// restart. Each record is a length-prefixed AMQP list: a put (the message's
// whole state, replacing any earlier put of the same message) or a remove. On
// start the log is replayed and rewritten with only the live messages.
//
// Nothing is acknowledged before it is on disk: a client's send is accepted, its
// settlement (complete, dead-letter, defer, a counted abandon) answered and a
// state-changing $management request (update-disposition, schedule, cancel,
// set-session-state, receive of deferred messages) answered only once the
// records it produced are written and fsynced, so a broker killed at any moment
// (kill -9, power loss) never forgets an accepted message nor brings back a
// completed one. Durability is a group commit: records go into a shared buffer
// and one goroutine (committer) writes and fsyncs whatever has piled up, then
// releases every acknowledgement that batch covers. An acknowledgement thus
// waits for at most the fsync in progress plus its own, never for a timer, and
// under load one fsync serves many clients. Locks themselves are not persisted:
// after a restart every message is available again. Messages scheduled on a
// topic (held before fan-out) are not persisted either; session states are.
type persister struct {
	path string
	log  func(msg string, args ...any)

	mu sync.Mutex
	f  *os.File
	// syncFile makes written records durable (f.Sync); tests replace it to
	// hold or fail a commit.
	syncFile func(*os.File) error
	buf      []byte // encoded records not yet written
	appended uint64 // records appended so far: the log position of the latest
	durable  uint64 // records written and fsynced
	waiters  []waiter
	err      error // the first write or fsync failure: persistence stops
	wake     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	closed   bool
}

// waiter is an acknowledgement held until the log is durable up to target.
// Exactly one of d, od and fn is set.
type waiter struct {
	target uint64
	// d is a client's transfer, settled with ok (a send).
	d  *amqp.Delivery
	ok amqp.DeliveryState
	// od is a delivery of ours the client settled unsettled (receive-settle-mode
	// second), answered with reply.
	od    *amqp.OutDelivery
	reply amqp.DeliveryState
	// fn answers anything else (a $management response); err is nil once durable.
	fn func(err error)
}

var errPersistClosed = errors.New("servicebus: the data log is closed")

const (
	logFile    = "servicebus.log"
	recPut     = "put"
	recRemove  = "rm"
	recSession = "sess" // [kind, store, session id, state (binary or null)]
)

// openPersister replays the log into the broker's stores and starts a fresh one.
func openPersister(b *Broker, dir string) (*persister, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("servicebus: data directory: %w", err)
	}
	path := filepath.Join(dir, logFile)
	byName := map[string]*entity{}
	for _, s := range b.stores {
		byName[s.name] = s
	}
	if err := replay(path, byName, b); err != nil {
		return nil, err
	}
	// Rewrite the live messages into a new log, then swap it in.
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("servicebus: data directory: %w", err)
	}
	p := &persister{path: path, f: f, syncFile: (*os.File).Sync,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		log: func(msg string, args ...any) { b.log.Error(msg, args...) }}
	for _, s := range b.stores {
		s.mu.Lock()
		for _, m := range s.all {
			if !m.gone {
				p.writePut(s, m)
			}
		}
		for id, ss := range s.sessions {
			if ss.state != nil {
				p.record([]any{recSession, s.name, id, ss.state})
			}
		}
		s.mu.Unlock()
	}
	if _, err := f.Write(p.buf); err != nil {
		f.Close()
		return nil, fmt.Errorf("servicebus: writing %s: %w", tmp, err)
	}
	p.buf = nil
	p.durable = p.appended
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("servicebus: writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		return nil, fmt.Errorf("servicebus: replacing %s: %w", path, err)
	}
	// The rename is durable only once the directory is: without this a crash
	// could bring back the old log, with messages completed since.
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("servicebus: syncing %s: %w", dir, err)
		}
	}
	go p.committer()
	return p, nil
}

// replay loads the log at path, if any, into the stores.
func replay(path string, byName map[string]*entity, b *Broker) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("servicebus: reading %s: %w", path, err)
	}
	defer f.Close()
	type key struct {
		entity string
		seq    int64
	}
	live := map[key][]any{}
	var order []key
	r := bufio.NewReaderSize(f, 256<<10)
	var hdr [4]byte
	for n := 0; ; n++ {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			break // end of log, or a record cut short by a crash: stop there
		}
		buf := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(r, buf); err != nil {
			b.log.Warn("servicebus: the data log ends in a partial record; ignoring it", "path", path, "record", n)
			break
		}
		v, _, err := amqp.Unmarshal(buf)
		rec, ok := v.([]any)
		if err != nil || !ok || len(rec) < 3 {
			return fmt.Errorf("servicebus: %s: record %d is corrupt; move the file away to start empty", path, n)
		}
		kind, _ := rec[0].(string)
		name, _ := rec[1].(string)
		if kind == recSession {
			id, _ := rec[2].(string)
			var state []byte
			if len(rec) > 3 {
				state, _ = rec[3].([]byte)
			}
			if s := byName[name]; s != nil {
				s.mu.Lock()
				ss := s.sessionLocked(id)
				ss.state = append([]byte(nil), state...)
				if state == nil {
					ss.state = nil
				}
				ss.updated = time.Now()
				s.mu.Unlock()
			}
			continue
		}
		seq, _ := rec[2].(int64)
		k := key{name, seq}
		switch kind {
		case recPut:
			if _, seen := live[k]; !seen {
				order = append(order, k)
			}
			live[k] = rec
		case recRemove:
			delete(live, k)
		}
	}
	now := time.Now()
	for _, k := range order {
		rec, ok := live[k]
		if !ok {
			continue
		}
		s := byName[k.entity]
		if s == nil {
			b.log.Warn("servicebus: the data log holds messages of an entity no longer configured; dropping them", "entity", k.entity)
			continue
		}
		if err := restore(s, rec, now); err != nil {
			return fmt.Errorf("servicebus: %s: %w", path, err)
		}
	}
	return nil
}

// put record: [kind, store, seq, enqueued, expires, scheduledAt, deliveryCount, deferred, dlSource, message]
func restore(s *entity, rec []any, now time.Time) error {
	if len(rec) < 10 {
		return errors.New("a put record is short")
	}
	raw, _ := rec[9].([]byte)
	d, err := parseMessage(append([]byte(nil), raw...))
	if err != nil {
		return err
	}
	m := &message{data: d}
	m.seq, _ = rec[2].(int64)
	m.enqueued, _ = rec[3].(time.Time)
	if exp, ok := rec[4].(time.Time); ok && exp.UnixMilli() != 0 {
		m.expires = exp
	}
	if at, ok := rec[5].(time.Time); ok && at.UnixMilli() != 0 {
		m.scheduledAt, m.scheduledState = at, true
	}
	dc, _ := rec[6].(uint32)
	m.deliveryCount = dc
	m.deferred, _ = rec[7].(bool)
	m.dlSource, _ = rec[8].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.seq >= s.nextSeq {
		s.nextSeq = m.seq + 1
	}
	s.insertAllLocked(m)
	s.live++
	if !m.expires.IsZero() {
		s.expiring++
	}
	switch {
	case m.scheduledState:
		s.sched[m.seq] = m
	case !m.deferred:
		s.pushAvailLocked(m)
	}
	return nil
}

func timeOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.UnixMilli(0)
	}
	return t
}

// record appends rec to the log buffer and wakes the committer. Callers that
// acknowledge something then call afterSync.
func (p *persister) record(rec []any) {
	b, err := amqp.Marshal(rec)
	if err != nil {
		p.log("servicebus: encoding a data log record", "err", err)
		return
	}
	p.mu.Lock()
	if p.closed || p.err != nil {
		p.mu.Unlock()
		return
	}
	p.buf = binary.BigEndian.AppendUint32(p.buf, uint32(len(b)))
	p.buf = append(p.buf, b...)
	p.appended++
	p.mu.Unlock()
	p.signal()
}

func (p *persister) signal() {
	select {
	case p.wake <- struct{}{}:
	default: // the committer is already due to run
	}
}

// writePut records m's whole state. Callers hold s.mu.
func (p *persister) writePut(s *entity, m *message) {
	raw, err := m.data.msg.AppendBinary(make([]byte, 0, m.data.size+64))
	if err != nil {
		p.log("servicebus: encoding a message for the data log", "err", err)
		return
	}
	var sched time.Time
	if m.scheduledState {
		sched = m.scheduledAt
	}
	p.record([]any{recPut, s.name, m.seq, timeOrZero(m.enqueued), timeOrZero(m.expires), timeOrZero(sched),
		m.deliveryCount, m.deferred, m.dlSource, raw})
}

// failed returns the error that stopped persistence, if any.
func (p *persister) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// afterSync releases w once every record appended so far is durable: at once
// when it already is, else from the committer after the fsync that covers
// them. The caller appended its records before calling, so they are covered;
// the target may also cover a few records other goroutines appended in
// between, which only matters when the committer cut its batch in exactly that
// window (the acknowledgement then rides on the next fsync).
func (p *persister) afterSync(w waiter) {
	p.mu.Lock()
	w.target = p.appended
	var err error
	switch {
	case p.err != nil:
		err = p.err
	case w.target <= p.durable:
	case p.closed:
		err = errPersistClosed
	default:
		p.waiters = append(p.waiters, w)
		p.mu.Unlock()
		p.signal()
		return
	}
	p.mu.Unlock()
	release([]waiter{w}, err)
}

// committer is the group commit: each round takes everything buffered, writes
// and fsyncs it outside the lock (records keep piling up meanwhile for the next
// round) and then releases the waiters it covered.
func (p *persister) committer() {
	defer close(p.done)
	var spare []byte
	for {
		select {
		case <-p.stop:
			return
		case <-p.wake:
		}
		for p.commit(&spare) {
		}
	}
}

// commit runs one round; it reports whether there was anything to do.
func (p *persister) commit(spare *[]byte) bool {
	p.mu.Lock()
	if len(p.buf) == 0 && len(p.waiters) == 0 {
		p.mu.Unlock()
		return false
	}
	buf, target, syncFile, err := p.buf, p.appended, p.syncFile, p.err
	p.buf = (*spare)[:0]
	p.mu.Unlock()
	if err == nil && len(buf) > 0 {
		if _, err = p.f.Write(buf); err == nil {
			err = syncFile(p.f)
		}
	}
	if cap(buf) <= 1<<20 {
		*spare = buf // reuse, unless a burst made it large
	} else {
		*spare = nil
	}
	p.mu.Lock()
	if err != nil && p.err == nil {
		p.err = err
		p.buf = nil
		p.log("servicebus: writing the data log failed; persistence stops and sends are refused", "err", err)
	}
	err = p.err
	if err == nil {
		p.durable = target
	}
	var ready []waiter
	keep := p.waiters[:0]
	for _, w := range p.waiters {
		if err != nil || w.target <= p.durable {
			ready = append(ready, w)
		} else {
			keep = append(keep, w)
		}
	}
	clear(p.waiters[len(keep):])
	p.waiters = keep
	p.mu.Unlock()
	release(ready, err)
	return true
}

// release answers the waiters of one commit; err non-nil means their records
// may not be on disk, which the clients are told as an internal error.
func release(ws []waiter, err error) {
	var internal *amqp.Error
	if err != nil {
		internal = &amqp.Error{Condition: amqp.ErrInternal, Description: "the broker could not write its data log: " + err.Error()}
	}
	// Accepted dispositions of consecutive transfers coalesce into one frame;
	// the last settled delivery of each link then pushes out its session's.
	var flush map[*amqp.Link]*amqp.Delivery
	for _, w := range ws {
		switch {
		case w.d != nil:
			if err != nil {
				w.d.Settle(&amqp.Rejected{Error: internal})
				continue
			}
			w.d.Settle(w.ok)
			if flush == nil {
				flush = map[*amqp.Link]*amqp.Delivery{}
			}
			flush[w.d.Link] = w.d
		case w.od != nil:
			if err != nil {
				w.od.Settle(&amqp.Rejected{Error: internal})
			} else {
				w.od.Settle(w.reply)
			}
		case w.fn != nil:
			w.fn(err)
		}
	}
	for _, d := range flush {
		d.SettleNow(nil) // already settled: only sends what is coalesced
	}
}

func (p *persister) close() error {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	p.closed = true
	err := p.err
	if err == nil && len(p.buf) > 0 {
		_, err = p.f.Write(p.buf)
	}
	p.buf = nil
	if err == nil {
		err = p.syncFile(p.f)
	}
	if err == nil {
		p.durable = p.appended
	}
	ws := p.waiters
	p.waiters = nil
	p.mu.Unlock()
	release(ws, err)
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("servicebus: closing the data log: %w", err)
	}
	return nil
}

// persistPut records a message's new state (no-op without a data directory).
func (b *Broker) persistPut(s *entity, m *message) {
	if b.persist != nil && m != nil && !m.gone {
		b.persist.writePut(s, m)
	}
}

// persistRemove records that a message is gone.
func (b *Broker) persistRemove(s *entity, m *message) {
	if b.persist != nil {
		b.persist.record([]any{recRemove, s.name, m.seq})
	}
}

// persistSessionState records a session's state (nil clears it).
func (b *Broker) persistSessionState(s *entity, id string, state []byte) {
	if b.persist != nil {
		var v any
		if state != nil {
			v = state
		}
		b.persist.record([]any{recSession, s.name, id, v})
	}
}
