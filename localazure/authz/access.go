package authz

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Access is one data-plane call as a stand-in saw it: who (the workload the token's
// object id belongs to), what, and the RBAC decision. Status and Duration are those
// of the HTTP answer (0 for Service Bus, whose checks happen per link).
type Access struct {
	Time        time.Time     `json:"time"`
	Workload    string        `json:"workload"` // the workload's name, or the object id of an unknown principal
	PrincipalID string        `json:"principalId,omitempty"`
	ClientID    string        `json:"clientId,omitempty"`
	Service     string        `json:"service"`   // keyvault, cosmos, blob, servicebus
	Operation   string        `json:"operation"` // the service's own action name
	Resource    string        `json:"resource"`  // the RBAC scope, e.g. storage/receipts
	Decision    string        `json:"decision"`  // allowed, denied, unauthenticated
	Role        string        `json:"role"`      // allowed: the role that allowed it; denied: the roles that would
	Status      int           `json:"status,omitempty"`
	Duration    time.Duration `json:"duration,omitempty"`
}

// Decisions of an Access.
const (
	Allowed         = "allowed"
	Denied          = "denied"
	Unauthenticated = "unauthenticated"
)

// AccessLog keeps the most recent accesses in a ring and logs each denial at WARN
// with the role that would have allowed it. It is safe for concurrent use.
type AccessLog struct {
	log   *slog.Logger
	names map[string]string // object id -> workload name

	mu   sync.Mutex
	ring []Access
	next int
	full bool
	subs map[chan Access]struct{}
}

// NewAccessLog keeps the last size accesses; names maps object ids to workload names.
func NewAccessLog(size int, log *slog.Logger, names map[string]string) *AccessLog {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AccessLog{log: log, names: names, ring: make([]Access, size), subs: map[chan Access]struct{}{}}
}

// Record adds an access.
func (l *AccessLog) Record(a Access) {
	if a.Time.IsZero() {
		a.Time = time.Now()
	}
	if a.Workload == "" {
		a.Workload = l.names[a.PrincipalID]
		if a.Workload == "" {
			a.Workload = a.PrincipalID
		}
	}
	if a.Decision == Denied {
		l.log.Warn("access denied", "workload", a.Workload, "service", a.Service, "operation", a.Operation,
			"resource", a.Resource, "needs", a.Role, "status", a.Status)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.next] = a
	l.next = (l.next + 1) % len(l.ring)
	l.full = l.full || l.next == 0
	for ch := range l.subs {
		select {
		case ch <- a:
		default: // a slow reader misses entries rather than slowing the stand-ins
		}
	}
}

// Recent returns the kept accesses, oldest first.
func (l *AccessLog) Recent() []Access {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.full {
		return append([]Access(nil), l.ring[:l.next]...)
	}
	return append(append([]Access(nil), l.ring[l.next:]...), l.ring[:l.next]...)
}

// Subscribe returns a channel of new accesses and a function that ends it.
func (l *AccessLog) Subscribe() (<-chan Access, func()) {
	ch := make(chan Access, 256)
	l.mu.Lock()
	l.subs[ch] = struct{}{}
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		delete(l.subs, ch)
		l.mu.Unlock()
	}
}

// Request is what a stand-in asks the policy: may this principal do this operation
// on this resource, given the roles that allow it.
type Request struct {
	Service, Operation, Scope string
	Principal                 Principal
	Roles                     []string
}

// Check is Allowed that also reports the decision to the access log, if the policy
// has one: into the HTTP request's entry when ctx carries one (ObserveHTTP adds the
// status and the duration), else at once.
func (p *Policy) Check(ctx context.Context, req Request) bool {
	role, ok := p.grantingRole(req.Principal.ObjectID, req.Scope, req.Roles...)
	if p.access == nil {
		return ok
	}
	a := Access{PrincipalID: req.Principal.ObjectID, ClientID: req.Principal.ClientID, Service: req.Service,
		Operation: req.Operation, Resource: strings.Trim(req.Scope, "/"), Decision: Allowed, Role: role}
	if !ok {
		a.Decision, a.Role = Denied, strings.Join(req.Roles, " or ")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if e, _ := ctx.Value(entryKey{}).(*entry); e != nil {
		e.mu.Lock()
		e.checks = append(e.checks, a)
		e.mu.Unlock()
		return ok
	}
	p.access.Record(a)
	return ok
}

// WithAccessLog returns a policy with the same assignments that reports every
// Check to l.
func (p *Policy) WithAccessLog(l *AccessLog) *Policy {
	c := *p
	c.access = l
	return &c
}

type entryKey struct{}

// entry collects the checks made while serving one HTTP request.
type entry struct {
	mu     sync.Mutex
	checks []Access
}

// ObserveHTTP records, for each request to service, the checks the handler made,
// with the answer's status and the time taken. A request refused before any check
// because its token did not verify (401 with an Authorization header) is recorded
// as unauthenticated; others without checks (discovery, shared key, a token
// challenge) are not recorded.
func ObserveHTTP(service string, l *AccessLog, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		e := &entry{}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), entryKey{}, e)))
		took := time.Since(start)
		e.mu.Lock()
		checks := e.checks
		e.mu.Unlock()
		if len(checks) == 0 && sw.status == http.StatusUnauthorized && r.Header.Get("Authorization") != "" {
			checks = []Access{{Service: service, Operation: r.Method + " " + r.URL.Path, Decision: Unauthenticated}}
		}
		for _, a := range checks {
			a.Time, a.Status, a.Duration = start, sw.status, took
			l.Record(a)
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Flush keeps streaming responses streaming.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (deadlines, hijack).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
