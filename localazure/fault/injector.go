package fault

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Injector holds the active rules and applies them. Rules are grouped by source
// ("config" for localazure.json, "runtime" for `localazure fault`), each replaced
// whole when set again.
type Injector struct {
	log *slog.Logger
	now func() time.Time

	mu      sync.RWMutex
	sources map[string][]*active
	actions map[string]func(fault string) int // Service Bus faults, by service
	stop    chan struct{}
	once    sync.Once
}

// active is a compiled rule in force.
type active struct {
	compiled
	source   string
	replaced chan struct{} // Service Bus rules: closed when Set replaces the rule
	fired    atomic.Int64  // requests failed or delayed; for Service Bus, things affected
}

// New returns an injector with no rules.
func New(log *slog.Logger) *Injector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Injector{log: log, now: time.Now, sources: map[string][]*active{}, actions: map[string]func(string) int{}, stop: make(chan struct{})}
}

// OnAction registers what a broker-level fault does for service (Service Bus: drop
// connections, lose locks); fn returns how many things it affected, for the log.
func (in *Injector) OnAction(service string, fn func(fault string) int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.actions[service] = fn
}

// Set replaces the rules of source after validating all of them; an invalid rule
// leaves the old ones in place. Service Bus rules act at once, and again every
// Every while active.
func (in *Injector) Set(source string, rules []Rule) error {
	now := in.now()
	var list []*active
	for i, r := range rules {
		c, err := r.compile(now)
		if err != nil {
			return fmt.Errorf("fault %d (%s): %w", i+1, r.Service, err)
		}
		list = append(list, &active{compiled: c, source: source})
	}
	in.mu.Lock()
	old := in.sources[source]
	in.sources[source] = list
	in.mu.Unlock()
	for _, a := range old {
		if a.replaced != nil {
			close(a.replaced) // ends its repeat loop
		}
	}
	for _, a := range list {
		in.log.Info("fault set", "source", source, "rule", a.Rule.String())
		if a.Service == "servicebus" {
			a.replaced = make(chan struct{})
			go in.repeat(a)
		}
	}
	return nil
}

// repeat runs a broker-level fault now and then every a.every while it is active.
func (in *Injector) repeat(a *active) {
	for {
		if !a.until.IsZero() && in.now().After(a.until) {
			return
		}
		in.mu.RLock()
		fn := in.actions[a.Service]
		in.mu.RUnlock()
		if fn != nil {
			n := fn(a.Fault)
			a.fired.Add(int64(n))
			in.log.Info("fault injected", "rule", a.Rule.String(), "affected", n)
		}
		if a.every <= 0 {
			return
		}
		select {
		case <-a.replaced:
			return
		case <-in.stop:
			return
		case <-time.After(a.every):
		}
	}
}

// Close stops the repeat loops.
func (in *Injector) Close() { in.once.Do(func() { close(in.stop) }) }

// Rules lists the active rules of every source, for `localazure fault list`.
func (in *Injector) Rules() []Rule {
	in.mu.RLock()
	defer in.mu.RUnlock()
	now := in.now()
	var out []Rule
	for _, list := range in.sources {
		for _, a := range list {
			if a.until.IsZero() || now.Before(a.until) {
				out = append(out, a.Rule)
			}
		}
	}
	return out
}

// Fired is how many times the rules of source have acted so far: requests failed
// or delayed, connections dropped, locks expired. Tests use it to prove a fault
// was exercised, not just set.
func (in *Injector) Fired(source string) int64 {
	in.mu.RLock()
	defer in.mu.RUnlock()
	var n int64
	for _, a := range in.sources[source] {
		n += a.fired.Load()
	}
	return n
}

// pick returns the first active rule for this request that fires, or nil.
func (in *Injector) pick(service, op, path string) *active {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if len(in.sources) == 0 {
		return nil
	}
	now := in.now()
	for _, src := range []string{"runtime", "config"} { // what the user just set wins
		for _, a := range in.sources[src] {
			if !a.until.IsZero() && now.After(a.until) {
				continue
			}
			if a.matches(service, op, path) && (a.rate >= 1 || rand.Float64() < a.rate) {
				return a
			}
		}
	}
	return nil
}

// HTTP wraps the handler of an HTTP stand-in. Without rules for it a request costs
// one read-locked map lookup.
func (in *Injector) HTTP(service string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := in.pick(service, operationOf(service, r), r.URL.Path)
		if a == nil {
			h.ServeHTTP(w, r)
			return
		}
		a.fired.Add(1)
		in.log.Debug("fault injected", "rule", a.Rule.String(), "method", r.Method, "path", r.URL.Path)
		switch a.Fault {
		case "latency":
			select {
			case <-time.After(a.latency):
			case <-r.Context().Done():
				return
			}
			h.ServeHTTP(w, r)
		case "throttle":
			throttle(service, w, a.retryAfter)
		case "unavailable":
			unavailable(service, w)
		}
	})
}

// operationOf sorts a request into read or write. Cosmos DB queries are POSTs that
// read.
func operationOf(service string, r *http.Request) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return "read"
	}
	if service == "cosmos" && (r.Header.Get("x-ms-documentdb-isquery") != "" || r.Header.Get("Content-Type") == "application/query+json") {
		return "read"
	}
	return "write"
}
