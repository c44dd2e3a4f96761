package servicebusemu

import (
	"sync"
	"time"
)

// subscription is a topic subscription: a store plus its rules. A message
// reaches it once when any rule matches; the first matching rule's action, if
// any, shapes the copy it gets.
type subscription struct {
	name   string
	entity *entity
	rules  []rule
}

// topic fans published messages out to its subscriptions. Messages scheduled on
// a topic wait here, under the topic's sequence numbers, until they are due.
type topic struct {
	b    *Broker
	name string
	set  entitySettings
	subs []*subscription

	mu        sync.Mutex
	nextSeq   int64
	dup       map[string]time.Time
	scheduled map[int64]*msgData
	schedAt   map[int64]time.Time
}

// publish delivers d to every matching subscription, or holds it when scheduled.
// It returns the topic sequence number for scheduled messages, else 0.
func (t *topic) publish(d *msgData, now time.Time) int64 {
	t.mu.Lock()
	if isDuplicate(t.dup, t.set, d.messageID, now) {
		t.mu.Unlock()
		return 0
	}
	if !d.scheduled.IsZero() && d.scheduled.After(now) {
		seq := t.nextSeq
		t.nextSeq++
		t.scheduled[seq] = d
		t.schedAt[seq] = d.scheduled
		t.mu.Unlock()
		return seq
	}
	t.mu.Unlock()
	t.fanOut(d, now)
	return 0
}

func (t *topic) fanOut(d *msgData, now time.Time) {
	for _, s := range t.subs {
		for _, r := range s.rules {
			if r.filter.match(d) {
				md := d
				if r.action != nil {
					md = r.action.apply(d)
				}
				if s.entity.set.forwardTo != "" {
					t.b.forward(s.entity, s.entity.set.forwardTo, md)
				} else {
					s.entity.enqueue(md, now)
				}
				break
			}
		}
	}
}

func (t *topic) cancelScheduled(seqs []int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range seqs {
		delete(t.scheduled, s)
		delete(t.schedAt, s)
	}
}

// sweep publishes scheduled messages that are due.
func (t *topic) sweep(now time.Time) {
	t.mu.Lock()
	var due []*msgData
	for seq, at := range t.schedAt {
		if !now.Before(at) {
			due = append(due, t.scheduled[seq])
			delete(t.scheduled, seq)
			delete(t.schedAt, seq)
		}
	}
	for id, seen := range t.dup {
		if now.Sub(seen) > t.set.dupWindow {
			delete(t.dup, id)
		}
	}
	t.mu.Unlock()
	for _, d := range due {
		t.fanOut(d, now)
	}
}
