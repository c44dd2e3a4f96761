package servicebusemu

import (
	"runtime"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"
)

// TestMemoryPerMessage reports the heap a held message costs (a 100-byte body
// with a message id and two application properties, as azservicebus sends).
func TestMemoryPerMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	b, err := New(Options{Entities: testEntities()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	q := b.queues["bench"]
	raw, _ := (&goamqp.Message{Properties: &goamqp.MessageProperties{MessageID: "0123456789abcdef0123456789abcdef"},
		ApplicationProperties: map[string]any{"kind": "order", "n": int64(1)},
		Data:                  [][]byte{make([]byte, 100)}}).MarshalBinary()
	const n = 50000
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	now := time.Now()
	for range n {
		d, err := parseMessage(append([]byte(nil), raw...))
		if err != nil {
			t.Fatal(err)
		}
		q.send(d, now)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.0f bytes of heap per held message (%d-byte encoded message)", per, len(raw))
	if q.count() != n {
		t.Fatal("count")
	}
	// About 1.4 KB today; fail on a regression that makes held messages much dearer.
	if per > 4096 {
		t.Fatalf("%.0f bytes per held message", per)
	}
}
