package servicebus

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
// Records are buffered and flushed every flushInterval and on Close (which also
// syncs): a broker killed without Close can lose the last moments, while a
// crashed client never loses anything (its locks expire). Locks themselves are
// not persisted: after a restart every message is available again. Messages
// scheduled on a topic (held before fan-out) are not persisted either; session
// states are.
type persister struct {
	path string
	log  func(msg string, args ...any)

	mu     sync.Mutex
	f      *os.File
	w      *bufio.Writer
	err    error
	dirty  bool
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

const (
	logFile       = "servicebus.log"
	flushInterval = 20 * time.Millisecond
	recPut        = "put"
	recRemove     = "rm"
	recSession    = "sess" // [kind, store, session id, state (binary or null)]
)

// openPersister replays the log into the broker's stores and starts a fresh one.
func openPersister(b *Broker, dir string) (*persister, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("servicebus: data directory: %w", err)
	}
	path := filepath.Join(dir, logFile)
	byName := map[string]*store{}
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
	p := &persister{path: path, f: f, w: bufio.NewWriterSize(f, 256<<10), stop: make(chan struct{}), done: make(chan struct{}),
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
	if err := p.w.Flush(); err != nil {
		f.Close()
		return nil, fmt.Errorf("servicebus: writing %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("servicebus: writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		return nil, fmt.Errorf("servicebus: replacing %s: %w", path, err)
	}
	go p.flusher()
	return p, nil
}

// replay loads the log at path, if any, into the stores.
func replay(path string, byName map[string]*store, b *Broker) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("servicebus: reading %s: %w", path, err)
	}
	defer f.Close()
	type key struct {
		store string
		seq   int64
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
		s := byName[k.store]
		if s == nil {
			b.log.Warn("servicebus: the data log holds messages of an entity no longer configured; dropping them", "entity", k.store)
			continue
		}
		if err := restore(s, rec, now); err != nil {
			return fmt.Errorf("servicebus: %s: %w", path, err)
		}
	}
	return nil
}

// put record: [kind, store, seq, enqueued, expires, scheduledAt, deliveryCount, deferred, dlSource, message]
func restore(s *store, rec []any, now time.Time) error {
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

func (p *persister) record(rec []any) {
	b, err := amqp.Marshal(rec)
	if err != nil {
		p.log("servicebus: encoding a data log record", "err", err)
		return
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.err != nil {
		return
	}
	p.w.Write(hdr[:])
	if _, err := p.w.Write(b); err != nil {
		p.err = err
		p.log("servicebus: writing the data log; persistence stops", "err", err)
	}
	p.dirty = true
}

// writePut records m's whole state. Callers hold s.mu.
func (p *persister) writePut(s *store, m *message) {
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

func (p *persister) flusher() {
	defer close(p.done)
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			if p.dirty && p.err == nil {
				if err := p.w.Flush(); err != nil {
					p.err = err
					p.log("servicebus: flushing the data log; persistence stops", "err", err)
				}
				p.dirty = false
			}
			p.mu.Unlock()
		}
	}
}

func (p *persister) close() error {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	err := p.w.Flush()
	if serr := p.f.Sync(); err == nil {
		err = serr
	}
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = p.err
	}
	if err != nil {
		return fmt.Errorf("servicebus: closing the data log: %w", err)
	}
	return nil
}

// persistPut records a message's new state (no-op without a data directory).
func (b *Broker) persistPut(s *store, m *message) {
	if b.persist != nil && m != nil && !m.gone {
		b.persist.writePut(s, m)
	}
}

// persistRemove records that a message is gone.
func (b *Broker) persistRemove(s *store, m *message) {
	if b.persist != nil {
		b.persist.record([]any{recRemove, s.name, m.seq})
	}
}

// persistSessionState records a session's state (nil clears it).
func (b *Broker) persistSessionState(s *store, id string, state []byte) {
	if b.persist != nil {
		var v any
		if state != nil {
			v = state
		}
		b.persist.record([]any{recSession, s.name, id, v})
	}
}
