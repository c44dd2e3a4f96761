package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, h http.Handler, path string) (int, Report) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var r Report
	if path == "/readyz" {
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("%s body %q: %v", path, rec.Body, err)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s Cache-Control %q", path, cc)
		}
	}
	return rec.Code, r
}

// TestCacheTTL checks that results are reused within the TTL and renewed after it.
func TestCacheTTL(t *testing.T) {
	var calls atomic.Int32
	var fail atomic.Bool
	now := time.Unix(0, 0)
	c := New([]Check{{Name: "cosmos", Probe: func(context.Context) error {
		calls.Add(1)
		if fail.Load() {
			return errors.New("refused")
		}
		return nil
	}}}, Options{TTL: time.Second, Now: func() time.Time { return now }})
	h := c.Handler(nil)
	if code, r := get(t, h, "/readyz"); code != 200 || r.Status != ReportOK || !r.Ready {
		t.Fatalf("readyz %d %+v", code, r)
	}
	fail.Store(true)
	now = now.Add(999 * time.Millisecond)
	if _, r := get(t, h, "/readyz"); r.Checks[0].Status != StatusOK || calls.Load() != 1 {
		t.Errorf("within the TTL: %+v after %d probes, want the cached ok after 1", r.Checks, calls.Load())
	}
	now = now.Add(time.Millisecond)
	if _, r := get(t, h, "/readyz"); r.Checks[0].Status != StatusError || r.Checks[0].Error != "refused" || calls.Load() != 2 {
		t.Errorf("after the TTL: %+v after %d probes", r.Checks, calls.Load())
	}
}

// TestTimeout checks that a check which honours its context and one which
// ignores it both end as an error at the timeout, and that the ignoring one is
// not started again while it still runs.
func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var stuckCalls atomic.Int32
	c := New([]Check{
		{Name: "honours", Probe: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
		{Name: "ignores", Probe: func(context.Context) error { stuckCalls.Add(1); <-release; return nil }},
	}, Options{TTL: time.Nanosecond, Timeout: 50 * time.Millisecond})
	start := time.Now()
	res := c.Results(context.Background())
	if d := time.Since(start); d > time.Second {
		t.Errorf("Results took %v with a 50ms timeout", d)
	}
	// Either its own error or the checker's, whichever came first at the deadline.
	if res[0].Status != StatusError || !strings.Contains(res[0].Error, "deadline") && !strings.Contains(res[0].Error, "no answer") {
		t.Errorf("honouring check: %+v", res[0])
	}
	if res[1].Status != StatusError || !strings.Contains(res[1].Error, "no answer within 50ms") {
		t.Errorf("ignoring check: %+v", res[1])
	}
	time.Sleep(time.Millisecond)
	res = c.Results(context.Background())
	if stuckCalls.Load() != 1 || !strings.Contains(res[1].Error, "previous check") {
		t.Errorf("the hung check was started %d times; result %+v", stuckCalls.Load(), res[1])
	}
}

// TestChecksRunConcurrently checks that no check waits for another: each one
// blocks until all have started.
func TestChecksRunConcurrently(t *testing.T) {
	const n = 5
	var started atomic.Int32
	all := make(chan struct{})
	var checks []Check
	for i := range n {
		checks = append(checks, Check{Name: string(rune('a' + i)), Probe: func(ctx context.Context) error {
			if started.Add(1) == n {
				close(all)
			}
			select {
			case <-all:
				return nil
			case <-ctx.Done():
				return errors.New("the other checks did not start meanwhile")
			}
		}})
	}
	res := New(checks, Options{Timeout: 2 * time.Second}).Results(context.Background())
	for i, r := range res {
		if r.Status != StatusOK || r.Name != string(rune('a'+i)) {
			t.Errorf("result %d: %+v", i, r)
		}
	}
}

// TestConcurrentCallersShareARound checks that simultaneous /readyz requests
// cost one probe, not one each.
func TestConcurrentCallersShareARound(t *testing.T) {
	var calls atomic.Int32
	c := New([]Check{{Name: "cosmos", Probe: func(context.Context) error {
		calls.Add(1)
		time.Sleep(20 * time.Millisecond)
		return nil
	}}}, Options{TTL: time.Minute})
	done := make(chan struct{})
	for range 10 {
		go func() { c.Results(context.Background()); done <- struct{}{} }()
	}
	for range 10 {
		<-done
	}
	if calls.Load() != 1 {
		t.Errorf("%d probes for 10 concurrent callers, want 1", calls.Load())
	}
}

// TestReadinessRule checks the rule of the package comment: a shared dependency
// failing keeps 200 and says degraded, an own check failing gives 503, and
// draining gives 503 whatever the checks say.
func TestReadinessRule(t *testing.T) {
	var sharedFails, ownFails atomic.Bool
	probe := func(b *atomic.Bool) func(context.Context) error {
		return func(context.Context) error {
			if b.Load() {
				return errors.New("down\nwith a long SDK body")
			}
			return nil
		}
	}
	reg := prometheus.NewRegistry()
	c := New([]Check{
		{Name: "entra-id", Scope: Own, Probe: probe(&ownFails)},
		{Name: "cosmos", Probe: probe(&sharedFails)}, // empty scope: shared
	}, Options{TTL: time.Nanosecond, Registerer: reg})
	var draining atomic.Bool
	h := c.Handler(draining.Load)
	for _, tc := range []struct {
		shared, own, draining bool
		code                  int
		status                string
	}{
		{false, false, false, 200, ReportOK},
		{true, false, false, 200, ReportDegraded},
		{false, true, false, 503, ReportUnready},
		{true, true, false, 503, ReportUnready},
		{false, false, true, 503, ReportDraining},
	} {
		sharedFails.Store(tc.shared)
		ownFails.Store(tc.own)
		draining.Store(tc.draining)
		time.Sleep(time.Millisecond) // past the TTL
		code, r := get(t, h, "/readyz")
		if code != tc.code || r.Status != tc.status || r.Ready != (tc.code == 200) {
			t.Errorf("shared failing %v, own failing %v, draining %v: %d %+v, want %d %s",
				tc.shared, tc.own, tc.draining, code, r, tc.code, tc.status)
		}
		if len(r.Checks) != 2 || r.Checks[1].Scope != Shared || r.Checks[0].Scope != Own {
			t.Fatalf("checks %+v", r.Checks)
		}
		if cs := r.Checks[1]; tc.shared && (cs.Reachable || cs.Error != "down") {
			t.Errorf("failing shared check shown as %+v; want the first line of the error", cs)
		}
		if up := gauge(t, reg, "cosmos"); up != map[bool]float64{false: 1, true: 0}[tc.shared] {
			t.Errorf("orderflow_dependency_up{dependency=cosmos} = %v with shared failing %v", up, tc.shared)
		}
	}
	if code, _ := get(t, h, "/healthz"); code != 200 {
		t.Errorf("/healthz %d; liveness must not depend on readiness", code)
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, dependency string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "orderflow_dependency_up" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "dependency" && l.GetValue() == dependency {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no orderflow_dependency_up{dependency=%q}", dependency)
	return 0
}

// TestProbesScope pins which dependency flips readiness.
func TestProbesScope(t *testing.T) {
	p := pinger{}
	for _, c := range []Check{Cosmos(p), Blob(p), KeyVault(p), ServiceBus(func() error { return nil })} {
		if c.Scope != Shared {
			t.Errorf("%s is %s, want shared", c.Name, c.Scope)
		}
	}
	if c := Entra(p); c.Scope != Own || c.Name != "entra-id" {
		t.Errorf("entra: %+v", c)
	}
	if err := ServiceBus(func() error { return errors.New("link detached") }).Probe(context.Background()); err == nil {
		t.Error("the Service Bus check hides the loop's error")
	}
}

type pinger struct{}

func (pinger) Ping(context.Context) error          { return nil }
func (pinger) Refresh(context.Context) error       { return nil }
func (pinger) CheckIdentity(context.Context) error { return nil }

// TestDefaultTimeoutBelowKubelet pins the default below the kubelet's default
// 1 s probe timeout, so a slow dependency is an error in the body, not a probe
// the kubelet gave up on.
func TestDefaultTimeoutBelowKubelet(t *testing.T) {
	if c := New(nil, Options{}); c.opts.Timeout != DefaultTimeout || DefaultTimeout >= time.Second {
		t.Errorf("timeout %v, DefaultTimeout %v; want below 1s", c.opts.Timeout, DefaultTimeout)
	}
}
