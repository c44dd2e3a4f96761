package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"
)

// A placer starts one step of the open loop: n orders at rate per second. It returns
// the orders (ID and when each was due) once all have been placed; a failed placement
// counts in failed.
type placer interface {
	place(ctx context.Context, step string, rate float64, n int) (placed []due, failed int, err error)
}

// A failureReporter says why a placement of the last step failed, so that a step
// lost to one failure shows its cause instead of only a count.
type failureReporter interface {
	lastFailure() string
}

type due struct {
	id string
	at time.Time
}

// stepResult is one rung of the ladder.
type stepResult struct {
	rate       float64       // offered orders/s
	completed  float64       // completed/s over the step's second half
	backlog    int           // due but not completed at the step's end
	failed     int           // placements that failed
	p50, p95   time.Duration // end-to-end: due → OrderCompleted seen by the tracker
	drained    bool          // every order of the step completed before the drain timeout
	cpu        map[string]time.Duration
	orders     int
	sustained  bool
	stepLength time.Duration
}

// ladderOptions bound the ladder in time.
type ladderOptions struct {
	start, factor float64
	steps         int
	step, drain   time.Duration
	// refine is how many steps narrow the last gap (0: none).
	refine int
}

// runLadder climbs rates until a step is not sustained, then narrows the gap between
// the last sustained rate and the first that was not with o.refine more steps, each at
// the geometric middle of the gap (with factor 1.2 and two of them the answer is within
// 5% rather than 20%). It returns every step run. A step is sustained when nothing
// failed, the completed rate over its second half is at least 95% of the offered rate
// (the backlog is not growing), and what is left at its end is under a second's worth
// of orders (latency, not queueing).
func runLadder(ctx context.Context, name string, p placer, t *tracker, m *meter, o ladderOptions, progress io.Writer) ([]stepResult, error) {
	var out []stepResult
	var prev []due // the orders of the step before, which a refine step lets finish first
	run := func(i int, rate float64) (stepResult, error) {
		// After a step that was not sustained the system still works off its backlog;
		// a refine step starts once that is done, so it measures its own rate only.
		if len(out) > 0 && !out[len(out)-1].sustained {
			waitDrained(ctx, t, prev, 3*o.drain)
		}
		n := int(rate * o.step.Seconds())
		before := m.snapshot()
		t0 := time.Now()
		// The step's key names its orders (raw-frontend's IDs are raw-<key>-<i>): unique
		// per run, so a second round's orders are not taken for the first's, already
		// stored (a Cosmos conflict) and completed.
		key := fmt.Sprintf("%s%d-%s", name, i, strconv.FormatInt(t0.UnixNano(), 36))
		placed, failed, err := p.place(ctx, key, rate, n)
		if err != nil {
			return stepResult{}, err
		}
		if len(placed) == 0 && failed == 0 {
			return stepResult{}, fmt.Errorf("%s: step %d placed nothing", name, i)
		}
		start := t0
		if len(placed) > 0 {
			start = slices.MinFunc(placed, func(a, b due) int { return a.at.Compare(b.at) }).at
		}
		end := start.Add(o.step)
		drained := waitDrained(ctx, t, placed, o.drain)
		r := evaluate(rate, placed, failed, t, start, end, o.step)
		r.drained = drained
		r.cpu = m.since(before)
		r.sustained = r.failed == 0 && r.completed >= 0.95*rate && float64(r.backlog) <= max(10, rate) && drained
		prev = placed
		fmt.Fprintf(progress, "  %-4s %6.0f/s offered  %6.1f/s completed  backlog %4d  p50 %6s  p95 %6s  failed %d  %s\n",
			name, rate, r.completed, r.backlog, r.p50.Round(time.Millisecond), r.p95.Round(time.Millisecond), r.failed, verdict(r.sustained))
		if fr, ok := p.(failureReporter); ok && r.failed > 0 {
			fmt.Fprintf(progress, "       a failed placement: %s\n", fr.lastFailure())
		}
		return r, nil
	}
	rate := o.start
	i := 0
	for ; i < o.steps; i++ {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		r, err := run(i, rate)
		if err != nil {
			return out, err
		}
		out = append(out, r)
		if !r.sustained {
			break
		}
		rate *= o.factor
	}
	// Refine only between a sustained rate and one that was not.
	lo, hi := 0.0, 0.0
	if b, ok := best(out); ok && !out[len(out)-1].sustained {
		lo, hi = b.rate, out[len(out)-1].rate
	}
	for j := 0; j < o.refine && lo > 0; j++ {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		mid := math.Sqrt(lo * hi)
		r, err := run(i+1+j, mid)
		if err != nil {
			return out, err
		}
		out = append(out, r)
		if r.sustained {
			lo = mid
		} else {
			hi = mid
		}
	}
	return out, nil
}

func verdict(ok bool) string {
	if ok {
		return "sustained"
	}
	return "NOT sustained"
}

// waitDrained waits until every placed order completed, or timeout after the last was due.
func waitDrained(ctx context.Context, t *tracker, placed []due, timeout time.Duration) bool {
	var last time.Time
	for _, d := range placed {
		if d.at.After(last) {
			last = d.at
		}
	}
	deadline := last.Add(timeout)
	for i := 0; i < len(placed); {
		if _, ok := t.completedAt(placed[i].id); ok {
			i++
			continue
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

func evaluate(rate float64, placed []due, failed int, t *tracker, start, end time.Time, length time.Duration) stepResult {
	mid := start.Add(length / 2)
	r := stepResult{rate: rate, failed: failed, orders: len(placed), stepLength: length}
	var secondHalf int
	var lat []time.Duration
	for _, d := range placed {
		at, ok := t.completedAt(d.id)
		if ok {
			lat = append(lat, at.Sub(d.at))
			if !at.Before(mid) && !at.After(end) {
				secondHalf++
			}
		}
		if d.at.Before(end) && (!ok || at.After(end)) {
			r.backlog++
		}
	}
	r.completed = float64(secondHalf) / (length / 2).Seconds()
	slices.Sort(lat)
	if len(lat) > 0 {
		r.p50 = lat[len(lat)/2]
		r.p95 = lat[min(len(lat)-1, len(lat)*95/100)]
	}
	return r
}

// best is the highest sustained step, if any.
func best(steps []stepResult) (stepResult, bool) {
	var b stepResult
	ok := false
	for _, s := range steps {
		if s.sustained && (!ok || s.rate > b.rate) {
			b, ok = s, true
		}
	}
	return b, ok
}
