package api

import (
	"container/heap"
	"sync"
	"time"
)

// streamRegistry schedules the periodic duties (heartbeat, store poll) of every
// taken-over SSE stream of one server from a single min-heap ordered by when
// each stream is next due, driven by one goroutine with one timer. An idle
// stream therefore owns no goroutine and no timer: it is a heap entry. The
// goroutine runs only while some stream is registered, so a server without
// streams (and a test that counts goroutines) has none.
//
// A due stream's tick runs on a goroutine of its own, which lives only for that
// tick: the scheduler never waits for a client's write or the store's read, so
// one slow stream cannot delay the others' heartbeats, and polls of many
// streams run side by side as they did with one goroutine per stream.
type streamRegistry struct {
	mu      sync.Mutex
	queue   streamQueue
	running bool
	// wake tells the scheduler that the earliest due time may have changed.
	wake chan struct{}
}

func newStreamRegistry() *streamRegistry {
	return &streamRegistry{wake: make(chan struct{}, 1)}
}

// schedule queues st to tick at st.due; st must not be queued.
func (r *streamRegistry) schedule(st *liveStream) {
	r.mu.Lock()
	heap.Push(&r.queue, st)
	first := st.index == 0
	if !r.running {
		r.running = true
		go r.run()
	} else if first {
		r.poke()
	}
	r.mu.Unlock()
}

// remove takes st off the queue if it is on it (a stream that is ticking is not).
func (r *streamRegistry) remove(st *liveStream) {
	r.mu.Lock()
	if st.index >= 0 {
		heap.Remove(&r.queue, st.index)
		if len(r.queue) == 0 {
			r.poke() // so the scheduler sees the queue is empty and ends
		}
	}
	r.mu.Unlock()
}

// len reports how many streams are queued (for tests).
func (r *streamRegistry) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.queue)
}

func (r *streamRegistry) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run pops due streams and starts their ticks until the queue is empty.
func (r *streamRegistry) run() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		r.mu.Lock()
		if len(r.queue) == 0 {
			r.running = false
			r.queue = nil // let a grown backing array go
			r.mu.Unlock()
			return
		}
		now := time.Now()
		next := r.queue[0]
		wait := next.due.Sub(now)
		if wait > 0 {
			r.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-r.wake:
			}
			continue
		}
		heap.Pop(&r.queue)
		r.mu.Unlock()
		go next.tick(now)
	}
}

// streamQueue is a container/heap of streams by due time; each stream keeps
// its index so it can be removed when it ends between ticks.
type streamQueue []*liveStream

func (q streamQueue) Len() int           { return len(q) }
func (q streamQueue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q streamQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}

func (q *streamQueue) Push(x any) {
	st := x.(*liveStream)
	st.index = len(*q)
	*q = append(*q, st)
}

func (q *streamQueue) Pop() any {
	old := *q
	st := old[len(old)-1]
	old[len(old)-1] = nil
	st.index = -1
	*q = old[:len(old)-1]
	return st
}
