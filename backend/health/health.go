// Package health serves the backend's probes: /healthz (the process is up) and
// /readyz (credentials work and every dependency answers), with readiness results
// cached briefly so that frequent probes do not load the dependencies.
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Check is one readiness check; nil means ready.
type Check func(ctx context.Context) error

// Checker runs named checks concurrently and caches the result for TTL.
type Checker struct {
	Checks  map[string]Check
	TTL     time.Duration // default 5s
	Timeout time.Duration // per run, default 5s
	Now     func() time.Time
	// Metrics, if set, is served at GET /metrics: the health server is the
	// backend's only HTTP listener, and the one the PodMonitor scrapes.
	Metrics http.Handler

	mu      sync.Mutex
	at      time.Time
	results map[string]string // name → "ok" or the error
	ready   bool
}

// Ready runs the checks (or returns the cached result) and reports readiness with
// each check's outcome.
func (c *Checker) Ready(ctx context.Context) (bool, map[string]string) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	ttl := c.TTL
	if ttl <= 0 {
		ttl = 5 * time.Second
	}
	c.mu.Lock()
	defer c.mu.Unlock() // one run at a time: concurrent probes share it
	if c.results != nil && now().Sub(c.at) < ttl {
		return c.ready, c.results
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	results := make(map[string]string, len(c.Checks))
	ready := true
	for name, check := range c.Checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := "ok"
			if err := check(ctx); err != nil {
				res = err.Error()
			}
			mu.Lock()
			defer mu.Unlock()
			results[name] = res
			if res != "ok" {
				ready = false
			}
		}()
	}
	wg.Wait()
	c.at, c.results, c.ready = now(), results, ready
	return ready, results
}

// Handler serves /healthz and /readyz, and /metrics when Metrics is set.
func (c *Checker) Handler() http.Handler {
	mux := http.NewServeMux()
	if c.Metrics != nil {
		mux.Handle("GET /metrics", c.Metrics)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ready, results := c.Ready(r.Context())
		status, code := "ready", http.StatusOK
		if !ready {
			status, code = "not ready", http.StatusServiceUnavailable
		}
		names := make([]string, 0, len(results))
		for n := range results {
			names = append(names, n)
		}
		sort.Strings(names)
		checks := make([]map[string]string, 0, len(names))
		for _, n := range names {
			checks = append(checks, map[string]string{"name": n, "result": results[n]})
		}
		writeJSON(w, code, map[string]any{"status": status, "checks": checks})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
