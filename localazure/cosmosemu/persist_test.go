package cosmosemu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

// TestAcknowledgedWritesSurviveACrash writes through the real SDK from many
// goroutines, then opens a second server on the same DataDir without closing the
// first (no final checkpoint, no flush: what kill -9 leaves) and checks that every
// write the SDK saw succeed is there, in its last acknowledged state.
func TestAcknowledgedWritesSurviveACrash(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, func(o *Options) { o.DataDir = dir })
	cc := e.container(e.keyClient(), "orderflow", "orders")
	const writers, each = 16, 25
	want := sync.Map{} // id -> expected "n" value, or -1 when deleted
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			pk := fmt.Sprintf("c%d", w)
			key := azcosmos.NewPartitionKeyString(pk)
			for i := range each {
				id := fmt.Sprintf("o%d-%d", w, i)
				if _, err := cc.CreateItem(ctx(), key, fmt.Appendf(nil, `{"id":%q,"customerId":%q,"n":0}`, id, pk), nil); err != nil {
					t.Errorf("create %s: %v", id, err)
					return
				}
				want.Store(id, 0)
				switch i % 5 {
				case 1:
					if _, err := cc.ReplaceItem(ctx(), key, id, fmt.Appendf(nil, `{"id":%q,"customerId":%q,"n":1}`, id, pk), nil); err != nil {
						t.Errorf("replace %s: %v", id, err)
						return
					}
					want.Store(id, 1)
				case 2:
					if _, err := cc.DeleteItem(ctx(), key, id, nil); err != nil {
						t.Errorf("delete %s: %v", id, err)
						return
					}
					want.Store(id, -1)
				case 3:
					ops := azcosmos.PatchOperations{}
					ops.AppendSet("/n", 3)
					if _, err := cc.PatchItem(ctx(), key, id, ops, nil); err != nil {
						t.Errorf("patch %s: %v", id, err)
						return
					}
					want.Store(id, 3)
				case 4:
					b := cc.NewTransactionalBatch(key)
					bid := id + "-batch"
					b.CreateItem(fmt.Appendf(nil, `{"id":%q,"customerId":%q,"n":4}`, bid, pk), nil)
					b.UpsertItem(fmt.Appendf(nil, `{"id":%q,"customerId":%q,"n":4}`, id, pk), nil)
					r, err := cc.ExecuteTransactionalBatch(ctx(), b, nil)
					if err != nil || !r.Success {
						t.Errorf("batch %s: %v", id, err)
						return
					}
					want.Store(id, 4)
					want.Store(bid, 4)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if syncs, writes := e.s.persist.j.syncs, e.s.persist.j.queued; syncs >= writes {
		t.Errorf("%d fsyncs for %d journal records: concurrent writers should share them", syncs, writes)
	} else {
		t.Logf("%d journal records, %d fsyncs", writes, syncs)
	}

	// The "crash": a second server on the same directory; the first is never closed.
	e2 := newEnv(t, func(o *Options) { o.DataDir = dir })
	cc2 := e2.container(e2.keyClient(), "orderflow", "orders")
	checked := 0
	want.Range(func(k, v any) bool {
		id, n := k.(string), v.(int)
		pk := "c" + strings.TrimPrefix(strings.SplitN(id, "-", 2)[0], "o")
		r, err := cc2.ReadItem(ctx(), azcosmos.NewPartitionKeyString(pk), id, nil)
		switch {
		case n < 0 && status(t, err) != 404:
			t.Errorf("%s was deleted before the crash but is back: %v", id, err)
		case n >= 0 && err != nil:
			t.Errorf("%s was acknowledged but is lost: %v", id, err)
		case n >= 0 && !strings.Contains(string(r.Value), fmt.Sprintf(`"n":%d`, n)):
			t.Errorf("%s: want n=%d after the crash, got %s", id, n, r.Value)
		}
		checked++
		return true
	})
	t.Logf("checked %d items after the crash", checked)

	// New items after the restart get fresh resource ids.
	if _, err := cc2.CreateItem(ctx(), azcosmos.NewPartitionKeyString("c0"), []byte(`{"id":"after","customerId":"c0"}`), nil); err != nil {
		t.Fatal(err)
	}
}

// TestMetadataChangesSurviveACrash: containers, their settings and offers are
// checkpointed before they are answered.
func TestMetadataChangesSurviveACrash(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, func(o *Options) { o.DataDir = dir })
	c := e.keyClient()
	db, _ := c.NewDatabase("orderflow")
	ttl := int32(3600)
	if _, err := db.CreateContainer(ctx(), azcosmos.ContainerProperties{ID: "late", DefaultTimeToLive: &ttl,
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/k"}}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.container(c, "orderflow", "other").Delete(ctx(), nil); err != nil {
		t.Fatal(err)
	}
	late := e.container(c, "orderflow", "late")
	if _, err := late.ReplaceThroughput(ctx(), azcosmos.NewManualThroughputProperties(900), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := late.CreateItem(ctx(), azcosmos.NewPartitionKeyString("a"), []byte(`{"id":"1","k":"a"}`), nil); err != nil {
		t.Fatal(err)
	}

	e2 := newEnv(t, func(o *Options) {
		o.DataDir = dir
		o.Databases = []Database{{ID: "orderflow", Containers: []Container{{"orders", "/customerId"}}}}
	})
	c2 := e2.keyClient()
	late2 := e2.container(c2, "orderflow", "late")
	props, err := late2.Read(ctx(), nil)
	if err != nil || props.ContainerProperties.DefaultTimeToLive == nil || *props.ContainerProperties.DefaultTimeToLive != 3600 {
		t.Fatalf("container after the crash: %v %+v", err, props.ContainerProperties)
	}
	if tp, err := late2.ReadThroughput(ctx(), nil); err != nil {
		t.Fatal(err)
	} else if n, _ := tp.ThroughputProperties.ManualThroughput(); n != 900 {
		t.Errorf("throughput after the crash: %d", n)
	}
	if _, err := late2.ReadItem(ctx(), azcosmos.NewPartitionKeyString("a"), "1", nil); err != nil {
		t.Errorf("item in the new container: %v", err)
	}
	if _, err := e2.container(c2, "orderflow", "other").Read(ctx(), nil); status(t, err) != 404 {
		t.Errorf("deleted container is back: %v", err)
	}
}

// TestTornJournalTailIsIgnored: a record cut short by the crash (never
// acknowledged) is dropped; everything before it is kept.
func TestTornJournalTailIsIgnored(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, func(o *Options) { o.DataDir = dir })
	cc := e.container(e.keyClient(), "orderflow", "orders")
	for i := range 3 {
		if _, err := cc.CreateItem(ctx(), azcosmos.NewPartitionKeyString("p"), fmt.Appendf(nil, `{"id":"%d","customerId":"p"}`, i), nil); err != nil {
			t.Fatal(err)
		}
	}
	gens, err := journalGenerations(dir)
	if err != nil || len(gens) == 0 {
		t.Fatalf("journals: %v %v", gens, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, journalName(gens[len(gens)-1])), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, '{', '"'}) // a header promising 200 bytes, then the crash
	f.Close()

	e2 := newEnv(t, func(o *Options) { o.DataDir = dir })
	cc2 := e2.container(e2.keyClient(), "orderflow", "orders")
	for i := range 3 {
		if _, err := cc2.ReadItem(ctx(), azcosmos.NewPartitionKeyString("p"), fmt.Sprint(i), nil); err != nil {
			t.Errorf("item %d before the torn record: %v", i, err)
		}
	}
}

// TestWriteFailsWhenTheJournalCannotBeWritten: a write that cannot be made
// durable is not acknowledged.
func TestWriteFailsWhenTheJournalCannotBeWritten(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.DataDir = t.TempDir() })
	cc := e.container(e.keyClient(), "orderflow", "orders")
	e.s.persist.j.f.Close() // the disk goes away under the journal
	_, err := cc.CreateItem(ctx(), azcosmos.NewPartitionKeyString("p"), []byte(`{"id":"x","customerId":"p"}`), nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 500 || !strings.Contains(err.Error(), "data directory") {
		t.Fatalf("err = %v", err)
	}
}

// TestWriteIsAnsweredOnlyAfterItsFsync holds the journal's fsync and checks that
// the SDK's create does not return until it is let go.
func TestWriteIsAnsweredOnlyAfterItsFsync(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.DataDir = t.TempDir() })
	cc := e.container(e.keyClient(), "orderflow", "orders")
	entered, release := make(chan struct{}, 16), make(chan struct{})
	j := e.s.persist.j
	j.fileMu.Lock()
	j.sync = func(f *os.File) error {
		entered <- struct{}{}
		<-release
		return f.Sync()
	}
	j.fileMu.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := cc.CreateItem(ctx(), azcosmos.NewPartitionKeyString("p"), []byte(`{"id":"x","customerId":"p"}`), nil)
		done <- err
	}()
	<-entered
	select {
	case err := <-done:
		t.Fatalf("create answered while its fsync was still running (err %v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// BenchmarkDurableUpsert measures upserts on a server with DataDir (answered after
// the journal's fsync) against the same client on an in-memory server, in
// alternating rounds of one run, and reports the durable rate as a fraction.
func BenchmarkDurableUpsert(b *testing.B) {
	for _, g := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			mem := newEnv(b, nil)
			disk := newEnv(b, func(o *Options) { o.DataDir = b.TempDir() })
			mc := mem.container(mem.keyClient(), "orderflow", "orders")
			dc := disk.container(disk.keyClient(), "orderflow", "orders")
			warm(b, upsertOp(mc))
			warm(b, upsertOp(dc))
			n := max(b.N, 500)
			const rounds = 10
			per := n / rounds
			var memEl, diskEl time.Duration
			b.ResetTimer()
			for range rounds {
				d1, _ := workload(b, per, g, upsertOp(mc))
				d2, _ := workload(b, per, g, upsertOp(dc))
				memEl, diskEl = memEl+d1, diskEl+d2
			}
			b.StopTimer()
			memRate, diskRate := float64(per*rounds)/memEl.Seconds(), float64(per*rounds)/diskEl.Seconds()
			b.ReportMetric(diskRate, "durable-ops/s")
			b.ReportMetric(memRate, "in-memory-ops/s")
			b.ReportMetric(diskRate/memRate, "of-in-memory")
		})
	}
}
