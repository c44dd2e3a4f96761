package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// result collects the measurements of one run.
type result struct {
	mu         sync.Mutex
	acceptLat  []time.Duration
	e2eLat     []time.Duration
	errors     map[string]int
	failedN    int
	peakRSS    map[string]int64 // bytes
	placing    time.Duration
	elapsed    time.Duration
	backlog    int
	acceptedN  int
	completedN int
}

func newResult() *result { return &result{errors: map[string]int{}, peakRSS: map[string]int64{}} }

func (r *result) placed(d time.Duration, errKind string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if errKind != "" {
		r.errors[errKind]++
		return
	}
	r.acceptedN++
	r.acceptLat = append(r.acceptLat, d)
}

func (r *result) completed(e2e time.Duration) {
	r.mu.Lock()
	r.completedN++
	r.e2eLat = append(r.e2eLat, e2e)
	r.mu.Unlock()
}

func (r *result) failed() {
	r.mu.Lock()
	r.failedN++
	r.mu.Unlock()
}

func (r *result) counts() (accepted, completed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.acceptedN, r.completedN
}

// percentile returns the p-th percentile (0..100) by nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64)
}

func (r *result) print(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rate := func(n int, d time.Duration) string {
		if d <= 0 {
			return "-"
		}
		return strconv.FormatFloat(float64(n)/d.Seconds(), 'f', 1, 64)
	}
	fmt.Fprintln(tw, "metric\tvalue\tp50 ms\tp95 ms\tp99 ms")
	fmt.Fprintf(tw, "accepted\t%d (%s/s)\t%s\t%s\t%s\n", r.acceptedN, rate(r.acceptedN, r.placing),
		ms(percentile(r.acceptLat, 50)), ms(percentile(r.acceptLat, 95)), ms(percentile(r.acceptLat, 99)))
	fmt.Fprintf(tw, "completed\t%d (%s/s)\t%s\t%s\t%s\n", r.completedN, rate(r.completedN, r.elapsed),
		ms(percentile(r.e2eLat, 50)), ms(percentile(r.e2eLat, 95)), ms(percentile(r.e2eLat, 99)))
	fmt.Fprintf(tw, "failed orders\t%d\t\t\t\n", r.failedN)
	fmt.Fprintf(tw, "backlog at end\t%d\t\t\t\n", r.backlog)
	kinds := make([]string, 0, len(r.errors))
	for k := range r.errors {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		fmt.Fprintf(tw, "error: %s\t%d\t\t\t\n", k, r.errors[k])
	}
	names := make([]string, 0, len(r.peakRSS))
	for k := range r.peakRSS {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(tw, "peak RSS %s\t%.1f MiB\t\t\t\n", n, float64(r.peakRSS[n])/(1<<20))
	}
	tw.Flush()
}

// watchRSS samples VmRSS of each named process every 200 ms and keeps the peak.
func watchRSS(pids map[string]int, r *result) (stop func()) {
	if len(pids) == 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			for name, pid := range pids {
				if b, ok := readRSS(pid); ok {
					r.mu.Lock()
					r.peakRSS[name] = max(r.peakRSS[name], b)
					r.mu.Unlock()
				}
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done) }
}

func readRSS(pid int) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err == nil
		}
	}
	return 0, false
}
