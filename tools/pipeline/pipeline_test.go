package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/stackconfig"
)

// capacityPlacer completes orders as a system with a fixed capacity would: each order
// completes when the server, busy for 1/capacity per order, gets to it.
type capacityPlacer struct {
	t        *tracker
	capacity float64
	mu       sync.Mutex
	free     time.Time
}

func (c *capacityPlacer) place(ctx context.Context, step string, rate float64, n int) ([]due, int, error) {
	start := time.Now()
	out := make([]due, n)
	for i := range n {
		at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		c.mu.Lock()
		if c.free.Before(at) {
			c.free = at
		}
		c.free = c.free.Add(time.Duration(float64(time.Second) / c.capacity))
		done := c.free.Add(5 * time.Millisecond)
		c.mu.Unlock()
		id := step + "-" + string(rune('a'+i%26)) + time.Duration(i).String()
		out[i] = due{id: id, at: at}
		c.t.mu.Lock()
		c.t.done[id] = done
		c.t.mu.Unlock()
	}
	// Placing takes as long as the schedule does; the tracker only sees the past.
	time.Sleep(time.Until(out[n-1].at))
	return out, 0, nil
}

func TestLadderStopsAtCapacity(t *testing.T) {
	tr := &tracker{done: map[string]time.Time{}}
	p := &capacityPlacer{t: tr, capacity: 300}
	m := &meter{pids: func() map[string][]int { return map[string][]int{"self": {os.Getpid()}} }}
	steps, err := runLadder(context.Background(), "x", p, tr, m, ladderOptions{start: 100, factor: 2, steps: 5, step: 2 * time.Second, drain: 5 * time.Second}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// 100 and 200 fit in 300/s; 400 does not, and the ladder stops there.
	if len(steps) != 3 || !steps[0].sustained || !steps[1].sustained || steps[2].sustained {
		for _, s := range steps {
			t.Logf("%.0f/s: completed %.1f/s backlog %d sustained %v", s.rate, s.completed, s.backlog, s.sustained)
		}
		t.Fatalf("got %d steps, want 100 and 200 sustained and 400 not", len(steps))
	}
	b, ok := best(steps)
	if !ok || b.rate != 200 {
		t.Fatalf("best = %.0f, %v; want 200", b.rate, ok)
	}
	if b.completed < 190 || b.completed > 210 {
		t.Errorf("completed/s at 200 = %.1f", b.completed)
	}
	if over := steps[2]; over.backlog < 100 || over.p95 <= b.p95 {
		t.Errorf("at 400/s: backlog %d, p95 %s (at 200/s %s): want a growing queue", over.backlog, over.p95, b.p95)
	}
}

// TestLadderRefinesTheGap: after 200/s held and 400/s did not on a 300/s system, two
// refine steps try 283/s (held) and 336/s (not), so the answer is 283, not 200.
func TestLadderRefinesTheGap(t *testing.T) {
	tr := &tracker{done: map[string]time.Time{}}
	p := &capacityPlacer{t: tr, capacity: 300}
	m := &meter{pids: func() map[string][]int { return nil }}
	steps, err := runLadder(context.Background(), "x", p, tr, m, ladderOptions{start: 100, factor: 2, steps: 5, refine: 2, step: 2 * time.Second, drain: 5 * time.Second}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var rates []int
	for _, s := range steps {
		rates = append(rates, int(s.rate))
	}
	if len(steps) != 5 || rates[3] != 282 || !steps[3].sustained || rates[4] != 336 || steps[4].sustained {
		t.Fatalf("rates %v: want 100, 200, 400 then 282 (sustained) and 336 (not)", rates)
	}
	if b, _ := best(steps); int(b.rate) != 282 {
		t.Errorf("best %.0f, want 282", b.rate)
	}
}

// TestRoundsPlaceDistinctOrders: a second ladder of the same side (the next round)
// names its orders differently from the first, on the same tracker.
func TestRoundsPlaceDistinctOrders(t *testing.T) {
	tr := &tracker{done: map[string]time.Time{}}
	m := &meter{pids: func() map[string][]int { return nil }}
	rec := &keyRecorder{}
	o := ladderOptions{start: 10, factor: 2, steps: 1, step: 2 * time.Second, drain: time.Second}
	for range 2 {
		if _, err := runLadder(context.Background(), "raw", rec, tr, m, o, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.keys) != 2 || rec.keys[0] == rec.keys[1] || !strings.HasPrefix(rec.keys[0], "raw0-") {
		t.Fatalf("step keys %q: want two distinct keys starting raw0-", rec.keys)
	}
}

// keyRecorder places one order per step and records the step keys.
type keyRecorder struct{ keys []string }

func (k *keyRecorder) place(_ context.Context, step string, _ float64, _ int) ([]due, int, error) {
	k.keys = append(k.keys, step)
	return nil, 1, nil
}

func TestEvaluateCountsLatencyFromDue(t *testing.T) {
	tr := &tracker{done: map[string]time.Time{}}
	start := time.Now()
	var placed []due
	for i := range 10 {
		d := due{id: string(rune('a' + i)), at: start.Add(time.Duration(i) * 100 * time.Millisecond)}
		placed = append(placed, d)
		if i < 9 { // the last never completes
			tr.done[d.id] = d.at.Add(time.Duration(i+1) * 10 * time.Millisecond)
		}
	}
	r := evaluate(10, placed, 0, tr, start, start.Add(time.Second), time.Second)
	if r.backlog != 1 {
		t.Errorf("backlog %d, want 1", r.backlog)
	}
	if r.p50 != 50*time.Millisecond || r.p95 != 90*time.Millisecond {
		t.Errorf("p50 %s p95 %s, want 50ms and 90ms", r.p50, r.p95)
	}
	// Completions at 0.51..0.89 s fall in the second half [0.5 s, 1 s]: orders 5..8.
	if r.completed != 8 {
		t.Errorf("completed/s %.1f, want 4 in half a second = 8/s", r.completed)
	}
}

// The copy of localazure.json the tool runs on must be one the launcher accepts.
func TestBenchConfigIsValid(t *testing.T) {
	dir := t.TempDir()
	path, err := benchConfig(filepath.Join("..", ".."), dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := stackconfig.Load(path)
	if err != nil {
		t.Fatalf("the launcher would refuse the bench config: %v", err)
	}
	found := false
	for _, ra := range c.LocalAzure.RoleAssignments {
		if strings.HasSuffix(ra.Scope, "/subscriptions/"+trackerSubscription) && ra.Principal == "frontend" {
			found = true
		}
	}
	if !found {
		t.Errorf("no role for the frontend on the tracker subscription")
	}
	orig, err := stackconfig.Load(filepath.Join("..", "..", "localazure.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c.LocalAzure.Ports == orig.LocalAzure.Ports {
		t.Errorf("ports not moved: %+v", c.LocalAzure.Ports)
	}
}

func TestCPUTimeOfThisProcess(t *testing.T) {
	before, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); x++ {
	}
	after, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := after - before; d < 100*time.Millisecond || d > 2*time.Second {
		t.Errorf("300 ms of spinning read as %s of CPU", d)
	}
}

// TestReportWithoutACommonRate: a round whose raw ladder sustained nothing has no
// like-for-like CPU figure; the app's row says so instead of printing 0.00 ms, and
// the ratios come from the other rounds only.
func TestReportWithoutACommonRate(t *testing.T) {
	cpu := map[string]time.Duration{"frontend": 300 * time.Millisecond, "backend": 600 * time.Millisecond}
	ok := stepResult{rate: 150, completed: 150, sustained: true, orders: 150, cpu: cpu}
	lost := stepResult{rate: 150, completed: 150, failed: 1, orders: 150, cpu: cpu}
	r := &report{ladder: ladderOptions{start: 150, factor: 1.2, step: 6 * time.Second}}
	r.add(0, "app", []stepResult{ok})
	r.add(0, "raw", []stepResult{ok})
	r.add(1, "app", []stepResult{ok})
	r.add(1, "raw", []stepResult{lost})
	var out strings.Builder
	r.print(&out)
	text := out.String()
	var row2 string
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "2" && f[1] == "app" {
			row2 = line
		}
	}
	if row2 == "" || strings.Contains(row2, "0.00 ms") || !strings.Contains(row2, "—") {
		t.Errorf("round 2's app row %q: want — for its CPU\n%s", row2, text)
	}
	if !strings.Contains(text, "frontend CPU per order, app/raw: median 1.00 (rounds: 1.00;") {
		t.Errorf("the ratios should come from round 1 alone:\n%s", text)
	}
}

// TestReportWithBare: with -bare, each round has a bare row and the app's ratios to
// it follow those to raw.
func TestReportWithBare(t *testing.T) {
	step := func(fe time.Duration) stepResult {
		return stepResult{rate: 150, completed: 150, sustained: true, orders: 100, cpu: map[string]time.Duration{"frontend": fe}}
	}
	r := &report{ladder: ladderOptions{start: 150, factor: 1.2, step: 6 * time.Second}}
	r.add(0, "app", []stepResult{step(300 * time.Millisecond)})
	r.add(0, "raw", []stepResult{step(200 * time.Millisecond)})
	r.add(0, "bare", []stepResult{step(250 * time.Millisecond)})
	var out strings.Builder
	r.print(&out)
	text := out.String()
	for _, want := range []string{
		"frontend CPU per order, app/raw: median 1.50", "frontend CPU per order, app/bare: median 1.20",
		"1  bare", "frontend 3.00 ms app, 2.50 ms bare (1.20)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
}
