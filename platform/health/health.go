// Package health is the one dependency checker behind both services' /healthz and
// /readyz (and the frontend's identity panel): one probe per dependency, one JSON
// shape, results cached so that frequent probes do not load Azure.
//
// # What flips readiness
//
// Readiness decides whether the Service routes traffic to this replica; taking a
// replica out only helps when the other replicas can serve instead. So a check
// has a Scope:
//
//   - Own: something only this replica can have broken, where taking it out of
//     rotation sends the traffic to a replica that works. The workload identity
//     is the one such check: the projected token and the credential's cached
//     Entra token are per pod, and a pod that cannot obtain a token fails every
//     Azure call while its siblings, holding valid tokens, do not.
//   - Shared: a dependency every replica uses (Cosmos DB, Blob Storage, Key Vault,
//     Service Bus). When it fails it fails for all replicas at once; if that made
//     them all unready the Service would have no endpoints and answer nothing at
//     all, not even the orders that do not need the failing dependency, the page,
//     or a problem+json 503 the client can retry on. So a shared failure keeps 200
//     and the body says "degraded"; the failing check, its error and the
//     orderflow_dependency_up gauge make it visible to people and alerts.
//
// The Service Bus receive loop is a shared check too: its health is the outcome
// of its last receive, and that fails the same way on every replica when the
// namespace does. A check that could tell a loop stuck in this replica alone
// (no progress while the namespace answers) would be Own.
//
// A frontend that is draining is unready whatever its checks say, so that the
// Service stops routing to it before it stops serving.
package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Scope says whether a failing check makes the replica unready; see the package
// comment for the rule.
type Scope string

const (
	// Shared is a dependency every replica uses: its failure is reported as
	// degraded and keeps readiness. It is the zero value's meaning, because
	// failing every replica at once is the worse mistake.
	Shared Scope = "shared"
	// Own is something only this replica can have broken: its failure makes
	// the replica unready.
	Own Scope = "own"
)

// Check is one dependency's probe. Probe returns nil when the dependency answered
// as expected; it gets a context with the Checker's per-check timeout.
type Check struct {
	Name  string
	Scope Scope // empty means Shared
	Probe func(ctx context.Context) error
}

// Status values of a Result.
const (
	StatusOK    = "ok"
	StatusError = "error"
)

// Status values of a Report.
const (
	ReportOK       = "ok"       // every check passed
	ReportDegraded = "degraded" // a shared check failed; still ready
	ReportUnready  = "unready"  // an own check failed
	ReportDraining = "draining" // shutting down; unready whatever the checks say
)

// Result is one check's outcome, the element of /readyz's "checks" and of the
// identity panel's "dependencies".
type Result struct {
	Name   string `json:"name"`
	Scope  Scope  `json:"scope"`
	Status string `json:"status"` // StatusOK or StatusError
	// Reachable repeats Status == "ok" as a boolean, which is what the identity
	// panel's page reads.
	Reachable bool  `json:"reachable"`
	LatencyMs int64 `json:"latencyMs"`
	// Error is a short, non-secret summary; the full error goes to the log only.
	Error string `json:"error,omitempty"`
}

// Report is the /readyz body.
type Report struct {
	Ready  bool     `json:"ready"`
	Status string   `json:"status"` // ReportOK, ReportDegraded, ReportUnready or ReportDraining
	Checks []Result `json:"checks"`
}

// HTTPStatus is the /readyz status code: 200 when ready (degraded included), else 503.
func (r Report) HTTPStatus() int {
	if r.Ready {
		return http.StatusOK
	}
	return http.StatusServiceUnavailable
}

// DefaultTimeout bounds each check. It stays below the kubelet's default probe
// timeout (timeoutSeconds: 1, which the Deployments keep): a slow shared
// dependency must show as an error in a 200 "degraded" answer, not as a probe
// that timed out, which the kubelet counts as unready on every replica at once.
const DefaultTimeout = 800 * time.Millisecond

// Options tune a Checker; the zero value is usable.
type Options struct {
	// TTL is how long results stay fresh (default 5 s): a probe from every
	// kubelet each few seconds then costs at most one round per TTL.
	TTL time.Duration
	// Timeout bounds each check (default DefaultTimeout).
	Timeout time.Duration
	Logger  *slog.Logger
	// Registerer, if set, gets the orderflow_dependency_up gauge, so dependency
	// state is in the metrics even when it does not flip readiness.
	Registerer prometheus.Registerer
	// Now is the clock (tests).
	Now func() time.Time
}

// Checker runs the checks concurrently and caches the outcome for the TTL.
type Checker struct {
	checks   []Check
	inflight []atomic.Bool // per check: a previous probe has not returned yet
	opts     Options
	up       *prometheus.GaugeVec

	mu   sync.Mutex
	at   time.Time
	last []Result
}

// New returns a Checker of checks, in the order given (the order of the results).
func New(checks []Check, o Options) *Checker {
	if o.TTL <= 0 {
		o.TTL = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Checker{checks: make([]Check, len(checks)), inflight: make([]atomic.Bool, len(checks)), opts: o}
	for i, ch := range checks {
		if ch.Scope == "" {
			ch.Scope = Shared
		}
		c.checks[i] = ch
	}
	if o.Registerer != nil {
		c.up = prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "orderflow", Subsystem: "dependency", Name: "up",
			Help: "1 when the dependency's last readiness check passed, else 0; scope own makes the replica unready when 0, shared only degraded.",
		}, []string{"dependency", "scope"})
		o.Registerer.MustRegister(c.up)
	}
	return c
}

// Results returns the cached results, or runs every check concurrently. Holding
// the lock while probing makes concurrent callers share one round.
func (c *Checker) Results(ctx context.Context) []Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last != nil && c.opts.Now().Sub(c.at) < c.opts.TTL {
		return c.last
	}
	res := make([]Result, len(c.checks))
	var wg sync.WaitGroup
	for i := range c.checks {
		wg.Go(func() { res[i] = c.run(ctx, i) })
	}
	wg.Wait()
	c.last, c.at = res, c.opts.Now()
	return res
}

// run probes check i within the timeout. It stops waiting at the timeout even
// when the probe ignores its context, so /readyz always answers; such a probe
// is not started again until it returns, so a hung one costs one goroutine, not
// one per round.
func (c *Checker) run(ctx context.Context, i int) Result {
	ch := c.checks[i]
	start := time.Now()
	var err error
	if !c.inflight[i].CompareAndSwap(false, true) {
		err = errors.New("the previous check has not returned yet")
	} else {
		// The probe outlives a cancelled request on purpose: its result is cached
		// for the next caller, so it should finish.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.Timeout)
		done := make(chan error, 1)
		go func() {
			defer c.inflight[i].Store(false)
			defer cancel()
			done <- ch.Probe(pctx)
		}()
		select {
		case err = <-done:
		case <-pctx.Done():
			select {
			case err = <-done: // it did honour the context
			default:
				err = fmt.Errorf("no answer within %s", c.opts.Timeout)
			}
		}
	}
	r := Result{Name: ch.Name, Scope: ch.Scope, Status: StatusOK, Reachable: err == nil, LatencyMs: time.Since(start).Milliseconds()}
	up := 1.0
	if err != nil {
		r.Status, r.Error, up = StatusError, summarize(err), 0
		c.opts.Logger.Warn("dependency check failed", "dependency", ch.Name, "scope", string(ch.Scope), "err", err)
	}
	if c.up != nil {
		c.up.WithLabelValues(ch.Name, string(ch.Scope)).Set(up)
	}
	return r
}

// Report applies the readiness rule (see the package comment) to the results.
func (c *Checker) Report(ctx context.Context, draining bool) Report {
	results := c.Results(ctx)
	r := Report{Ready: true, Status: ReportOK, Checks: results}
	if r.Checks == nil {
		r.Checks = []Result{}
	}
	for _, res := range results {
		if res.Status == StatusOK {
			continue
		}
		if res.Scope == Own {
			r.Ready, r.Status = false, ReportUnready
			break
		}
		r.Status = ReportDegraded
	}
	if draining {
		r.Ready, r.Status = false, ReportDraining
	}
	return r
}

// ServeReadyz writes the Report as /readyz.
func (c *Checker) ServeReadyz(w http.ResponseWriter, r *http.Request, draining bool) {
	rep := c.Report(r.Context(), draining)
	writeJSON(w, rep.HTTPStatus(), rep)
}

// Healthz serves /healthz, liveness: the process serves HTTP. It does no I/O, so
// a slow Azure service never gets the pod restarted.
func Healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Handler serves GET /healthz and GET /readyz; draining, if not nil, reports
// whether the process is shutting down.
func (c *Checker) Handler(draining func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", Healthz)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		c.ServeReadyz(w, r, draining != nil && draining())
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store") // a probe must see the replica's state now
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// summarize shortens an error to its first line so SDK errors, which can carry
// whole response bodies, do not spill into a public page.
func summarize(err error) string {
	s := err.Error()
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	const maxLen = 160
	if len(s) > maxLen {
		s = s[:maxLen] + "…"
	}
	return s
}
