package http

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Check probes one dependency (Entra ID token, Key Vault, Cosmos DB, Blob,
// Service Bus). Probe returns nil when the dependency answered as expected.
type Check struct {
	Name  string
	Probe func(ctx context.Context) error
}

// CheckResult is the outcome of one Check as /readyz and /api/identity show it.
type CheckResult struct {
	Name      string `json:"name"`
	Reachable bool   `json:"reachable"`
	LatencyMs int64  `json:"latencyMs"`
	// Error is a short, non-secret summary; the full error goes to the log only.
	Error string `json:"error,omitempty"`
}

// Checker runs the checks and caches the outcome for ttl, so a readiness probe
// every second from each kubelet does not turn into a request per second
// against every Azure service.
type Checker struct {
	checks  []Check
	ttl     time.Duration
	timeout time.Duration
	log     *slog.Logger

	mu   sync.Mutex
	at   time.Time
	last []CheckResult
}

// NewChecker returns a Checker whose results stay fresh for ttl; each probe gets timeout.
func NewChecker(checks []Check, ttl, timeout time.Duration, log *slog.Logger) *Checker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Checker{checks: checks, ttl: ttl, timeout: timeout, log: log}
}

// Results returns the cached results or runs every check concurrently.
// Holding the lock while probing means concurrent callers share one round.
func (c *Checker) Results(ctx context.Context) []CheckResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last != nil && time.Since(c.at) < c.ttl {
		return c.last
	}
	res := make([]CheckResult, len(c.checks))
	var wg sync.WaitGroup
	for i, ch := range c.checks {
		wg.Go(func() {
			// The probe outlives a cancelled request on purpose: its result is
			// cached for the next caller, so it should finish.
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
			defer cancel()
			start := time.Now()
			err := ch.Probe(pctx)
			r := CheckResult{Name: ch.Name, Reachable: err == nil, LatencyMs: time.Since(start).Milliseconds()}
			if err != nil {
				r.Error = summarize(err)
				c.log.Warn("dependency check failed", "dependency", ch.Name, "err", err)
			}
			res[i] = r
		})
	}
	wg.Wait()
	c.last, c.at = res, time.Now()
	return res
}

// summarize shortens an error to its first line so SDK errors, which can carry
// whole response bodies, do not spill into a public page.
func summarize(err error) string {
	s := err.Error()
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	const max = 160
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// healthz answers whether the process is alive: it does no I/O, so a slow Azure
// service never gets the pod restarted.
func healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when every dependency is reachable, so Kubernetes
// sends traffic only to replicas that obtained credentials and can serve.
func (s *Server) readyz(c echo.Context) error {
	results := s.checker.Results(c.Request().Context())
	status := http.StatusOK
	for _, r := range results {
		if !r.Reachable {
			status = http.StatusServiceUnavailable
		}
	}
	if s.draining() {
		// Fail readiness first during shutdown so the Service stops routing here.
		status = http.StatusServiceUnavailable
	}
	body := struct {
		Ready  bool          `json:"ready"`
		Checks []CheckResult `json:"checks"`
	}{status == http.StatusOK, results}
	if body.Checks == nil {
		body.Checks = []CheckResult{}
	}
	return c.JSON(status, body)
}
