package servicebusemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// These tests stand for kill -9 by opening a second broker on the data
// directory of a first one that is left running: no Close, so nothing is
// flushed or synced on the way down, and whatever the second broker replays is
// exactly what the first had written when the client got its answer. (The first
// broker keeps writing to the log it holds open, which the second one's rewrite
// has already renamed away, so it cannot disturb the replay.)

// reopen starts another broker on the same data directory without closing tb.
func reopen(t *testing.T, dir string) *testBroker {
	t.Helper()
	return startBroker(t, func(o *Options) { o.DataDir = dir })
}

// bodiesOf drains n messages from r and returns their bodies, sorted.
func bodiesOf(t *testing.T, r *azservicebus.Receiver, n int) []string {
	t.Helper()
	var out []string
	for _, m := range receiveN(t, r, n) {
		out = append(out, string(m.Body))
	}
	sort.Strings(out)
	return out
}

func TestAcceptedSendSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	tb := startBroker(t, func(o *Options) { o.DataDir = dir })
	c := tb.client(t)
	ctx := ctxT(t, 30*time.Second)
	const senders, each = 4, 10
	var want []string
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for i := range senders {
		s, err := c.NewSender("orders", nil)
		if err != nil {
			t.Fatal(err)
		}
		for j := range each {
			want = append(want, fmt.Sprintf("m-%d-%02d", i, j))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				if err := s.SendMessage(ctx, body(fmt.Sprintf("m-%d-%02d", i, j)), nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	// A batch, and a topic send fanned out to two subscriptions.
	s, _ := c.NewSender("orders", nil)
	batch, _ := s.NewMessageBatch(ctx, nil)
	for j := range 5 {
		batch.AddMessage(body(fmt.Sprintf("batch-%d", j)), nil)
		want = append(want, fmt.Sprintf("batch-%d", j))
	}
	if err := s.SendMessageBatch(ctx, batch, nil); err != nil {
		t.Fatal(err)
	}
	ts, _ := c.NewSender("order-events", nil)
	if err := ts.SendMessage(ctx, &azservicebus.Message{Body: []byte("fanned"),
		ApplicationProperties: map[string]any{"color": "red", "qty": int64(9)}}, nil); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	tb2 := reopen(t, dir) // at once: tb is neither closed nor given time to flush
	if n, _ := tb2.MessageCount("orders"); n != len(want) {
		t.Fatalf("after the kill orders holds %d of the %d accepted messages", n, len(want))
	}
	for _, sub := range []string{"all", "red"} {
		if n, _ := tb2.MessageCount("order-events/subscriptions/" + sub); n != 1 {
			t.Fatalf("after the kill subscription %s holds %d messages, want 1", sub, n)
		}
	}
	r, _ := tb2.client(t).NewReceiverForQueue("orders", nil)
	sort.Strings(want)
	if got := bodiesOf(t, r, len(want)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the kill:\n got %v\nwant %v", got, want)
	}
}

func TestSettlementSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	tb := startBroker(t, func(o *Options) { o.DataDir = dir })
	c := tb.client(t)
	ctx := ctxT(t, 30*time.Second)
	var msgs []*azservicebus.Message
	for i := range 10 {
		msgs = append(msgs, body(fmt.Sprintf("m%d", i)))
	}
	send(t, c, "orders", msgs...)
	r, _ := c.NewReceiverForQueue("orders", nil)
	got := receiveN(t, r, 10)
	sort.Slice(got, func(i, j int) bool { return string(got[i].Body) < string(got[j].Body) })
	// m0..m3 completed on the link, m4 dead-lettered, m5 deferred and then
	// completed over $management, m6 abandoned (counted); m7..m9 stay locked.
	var wg sync.WaitGroup
	for _, m := range got[:4] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.CompleteMessage(ctx, m, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := r.DeadLetterMessage(ctx, got[4], nil); err != nil {
		t.Fatal(err)
	}
	if err := r.DeferMessage(ctx, got[5], nil); err != nil {
		t.Fatal(err)
	}
	def, err := r.ReceiveDeferredMessages(ctx, []int64{*got[5].SequenceNumber}, nil)
	if err != nil || len(def) != 1 {
		t.Fatalf("deferred: %v %v", def, err)
	}
	if err := r.CompleteMessage(ctx, def[0], nil); err != nil { // update-disposition over $management
		t.Fatal(err)
	}
	if err := r.AbandonMessage(ctx, got[6], nil); err != nil {
		t.Fatal(err)
	}
	sq, _ := c.NewSender("orders", nil)
	schedSeq, err := sq.ScheduleMessages(ctx, []*azservicebus.Message{body("scheduled")}, time.Now().Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}

	tb2 := reopen(t, dir)
	c2 := tb2.client(t)
	if n, _ := tb2.MessageCount("orders"); n != 5 { // m6..m9 and the scheduled one
		t.Fatalf("after the kill orders holds %d, want 5", n)
	}
	r2, _ := c2.NewReceiverForQueue("orders", nil)
	redelivered := receiveN(t, r2, 4)
	var bodies []string
	for _, m := range redelivered {
		bodies = append(bodies, fmt.Sprintf("%s/%d", m.Body, m.DeliveryCount))
	}
	sort.Strings(bodies)
	// m6's abandon counted an attempt, persisted before the abandon was answered.
	if fmt.Sprint(bodies) != "[m6/2 m7/1 m8/1 m9/1]" {
		t.Fatalf("after the kill: %v (a completed message came back, or one is missing)", bodies)
	}
	expectNone(t, r2, 200*time.Millisecond)
	dlq, _ := c2.NewReceiverForQueue("orders", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	if m := receiveN(t, dlq, 1)[0]; string(m.Body) != "m4" {
		t.Fatalf("dead-letter queue after the kill: %q", m.Body)
	}
	peek, err := r2.PeekMessages(ctx, 10, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &schedSeq[0]})
	if err != nil || len(peek) != 1 || peek[0].State != azservicebus.MessageStateScheduled {
		t.Fatalf("scheduled after the kill: %v %v", err, peek)
	}
}

// holdSync makes tb's fsyncs wait until the returned release is called; synced
// receives once per fsync as it starts.
func holdSync(tb *testBroker) (synced <-chan struct{}, release func()) {
	gate := make(chan struct{})
	started := make(chan struct{}, 1000)
	p := tb.persist
	p.mu.Lock()
	p.syncFile = func(f *os.File) error {
		started <- struct{}{}
		<-gate
		return f.Sync()
	}
	p.mu.Unlock()
	var once sync.Once
	return started, func() { once.Do(func() { close(gate) }) }
}

// TestAckWaitsForSync holds the fsync and checks that neither a send's
// acceptance nor a completion's answer reaches the client before it is done.
func TestAckWaitsForSync(t *testing.T) {
	tb := startBroker(t, func(o *Options) { o.DataDir = t.TempDir() })
	c := tb.client(t)
	ctx := ctxT(t, 30*time.Second)
	s, _ := c.NewSender("orders", nil)
	if err := s.SendMessage(ctx, body("warm-up"), nil); err != nil { // links and token
		t.Fatal(err)
	}
	r, _ := c.NewReceiverForQueue("orders", nil)
	warm := receiveN(t, r, 1)[0]

	check := func(what string, op func() error) {
		t.Helper()
		started, release := holdSync(tb)
		defer release()
		done := make(chan error, 1)
		go func() { done <- op() }()
		select {
		case <-started:
		case err := <-done:
			t.Fatalf("%s answered (%v) without an fsync", what, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no fsync started", what)
		}
		select {
		case err := <-done:
			t.Fatalf("%s answered (%v) while its fsync was still running", what, err)
		case <-time.After(300 * time.Millisecond):
		}
		release()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no answer after the fsync", what)
		}
	}
	check("send", func() error { return s.SendMessage(ctx, body("held"), nil) })
	check("complete", func() error { return r.CompleteMessage(ctx, warm, nil) })
	if n, _ := tb.MessageCount("orders"); n != 1 {
		t.Fatalf("orders holds %d, want 1", n)
	}
}

// TestGroupCommit drives the persister directly: while one fsync runs, the
// records and waiters that arrive share the next one, and no waiter is released
// before the fsync covering its records has returned.
func TestGroupCommit(t *testing.T) {
	b, err := New(Options{Entities: testEntities(), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p := b.persist
	gate := make(chan struct{})
	started := make(chan struct{}, 10)
	var syncs, finished atomic.Int32
	p.mu.Lock()
	p.syncFile = func(f *os.File) error {
		syncs.Add(1)
		started <- struct{}{}
		<-gate
		err := f.Sync()
		finished.Add(1)
		return err
	}
	p.mu.Unlock()

	type rel struct {
		name       string
		afterSyncs int32
		err        error
	}
	released := make(chan rel, 20)
	wait := func(name string) {
		p.afterSync(waiter{fn: func(err error) { released <- rel{name, finished.Load(), err} }})
	}
	rec := func(i int) { p.record([]any{recRemove, "orders", int64(i)}) }

	rec(0)
	wait("first")
	<-started // the first batch is being synced, and held
	for i := 1; i <= 10; i++ {
		rec(i)
		wait(fmt.Sprint("later-", i))
	}
	select {
	case r := <-released:
		t.Fatalf("%s released while the fsync was held", r.name)
	case <-time.After(100 * time.Millisecond):
	}
	close(gate)
	for range 11 {
		select {
		case r := <-released:
			want := int32(2)
			if r.name == "first" {
				want = 1
			}
			if r.err != nil || r.afterSyncs < want {
				t.Fatalf("%s released after %d fsyncs (err %v), want %d", r.name, r.afterSyncs, r.err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("waiters not released")
		}
	}
	if n := syncs.Load(); n != 2 {
		t.Fatalf("%d fsyncs for two batches", n)
	}
	// With nothing new appended, a waiter is released at once and costs no fsync.
	wait("idle")
	if r := <-released; r.err != nil || syncs.Load() != 2 {
		t.Fatalf("idle waiter: %v after %d fsyncs", r.err, syncs.Load())
	}
}

// TestSyncFailureRefuses checks that a failed fsync reaches the client as an
// error, and that later sends are refused rather than accepted undurably.
func TestSyncFailureRefuses(t *testing.T) {
	tb := startBroker(t, func(o *Options) { o.DataDir = t.TempDir() })
	c, err := azservicebus.NewClientFromConnectionString(tb.connStr, &azservicebus.ClientOptions{
		RetryOptions: azservicebus.RetryOptions{MaxRetries: -1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	ctx := ctxT(t, 30*time.Second)
	s, _ := c.NewSender("orders", nil)
	if err := s.SendMessage(ctx, body("ok"), nil); err != nil {
		t.Fatal(err)
	}
	p := tb.persist
	p.mu.Lock()
	p.syncFile = func(*os.File) error { return errors.New("disk on fire") }
	p.mu.Unlock()
	if err := s.SendMessage(ctx, body("lost"), nil); err == nil {
		t.Fatal("a send whose fsync failed was accepted")
	}
	s2, _ := c.NewSender("orders", nil)
	if err := s2.SendMessage(ctx, body("after"), nil); err == nil {
		t.Fatal("a send after the data log failed was accepted")
	}
}
