// Package benchkit holds what the stand-ins' benchmarks share: running an operation
// from several goroutines and reporting throughput and tail latency, so that a
// stand-in and its do-nothing baseline are measured the same way in the same run.
package benchkit

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Measure runs b.N calls of op spread over goroutines and reports throughput (ops/s)
// and the 99th-percentile latency (p99-µs). It returns the throughput for comparison
// with a ceiling.
func Measure(b *testing.B, goroutines int, op func() error) float64 {
	b.Helper()
	lat := make([][]time.Duration, goroutines)
	var wg sync.WaitGroup
	var failed sync.Once
	b.ResetTimer()
	start := time.Now()
	for g := range goroutines {
		n := b.N / goroutines
		if g < b.N%goroutines {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := make([]time.Duration, 0, n)
			for range n {
				t0 := time.Now()
				if err := op(); err != nil {
					failed.Do(func() { b.Error(err) })
					return
				}
				l = append(l, time.Since(t0))
			}
			lat[g] = l
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	opsPerSec := float64(len(all)) / elapsed.Seconds()
	b.ReportMetric(opsPerSec, "ops/s")
	if len(all) > 0 {
		b.ReportMetric(float64(all[(len(all)*99)/100].Microseconds()), "p99-µs")
	}
	return opsPerSec
}
