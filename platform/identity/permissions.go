package identity

import (
	"context"
	"sync"
	"time"

	"github.com/contoso/orderflow/platform/doctor"
)

// Permissions is the "permissions" part of a View: what the identity was observed
// to be allowed to do, when, and by which means.
type Permissions struct {
	// CheckedAt is when the probes ran; the result is reused until it is TTL old.
	CheckedAt time.Time `json:"checkedAt"`
	// Source says how the list was made: read-only probes with the identity's own
	// token, not a read of its role assignments (which the identity may not list).
	Source string              `json:"source"`
	Items  []doctor.Permission `json:"items"`
}

// ProbeSource is the Source text of a probed list.
const ProbeSource = "probed: platform/doctor's read-only checks with this identity's own token"

// Prober runs the permission probes on demand and caches their result, so that
// however often the panel is loaded the services see at most one round per TTL.
// The first caller after the TTL runs the round; concurrent callers wait for it.
type Prober struct {
	probe   func(ctx context.Context, timeout time.Duration) []doctor.Permission
	ttl     time.Duration
	timeout time.Duration
	now     func() time.Time

	mu       sync.Mutex
	last     *Permissions
	inflight chan struct{} // closed when the running round is done; nil = none
}

// ProberOptions tune a Prober; zero fields take the defaults.
type ProberOptions struct {
	// TTL is how long a round's result is served (default 30 s).
	TTL time.Duration
	// Timeout bounds each probe of a round; they run concurrently (default 5 s).
	Timeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// NewProber returns a Prober around probe, which main builds from
// doctor.ReadPermissions and the service's clients.
func NewProber(probe func(ctx context.Context, timeout time.Duration) []doctor.Permission, o ProberOptions) *Prober {
	if o.TTL <= 0 {
		o.TTL = 30 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Prober{probe: probe, ttl: o.TTL, timeout: o.Timeout, now: o.Now}
}

// Get returns the cached result while it is fresh, else runs a round. A caller
// whose ctx ends while another caller's round runs gets the previous result
// (nil before the first round has finished).
func (p *Prober) Get(ctx context.Context) *Permissions {
	p.mu.Lock()
	if p.last != nil && p.now().Sub(p.last.CheckedAt) < p.ttl {
		v := p.last
		p.mu.Unlock()
		return v
	}
	if ch := p.inflight; ch != nil {
		prev := p.last
		p.mu.Unlock()
		select {
		case <-ch:
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.last
		case <-ctx.Done():
			return prev
		}
	}
	ch := make(chan struct{})
	p.inflight = ch
	p.mu.Unlock()

	// The round is shared, so one caller going away must not cut it short; each
	// probe is bounded by the timeout instead.
	items := p.probe(context.WithoutCancel(ctx), p.timeout)
	if items == nil {
		items = []doctor.Permission{}
	}
	v := &Permissions{CheckedAt: p.now().UTC(), Source: ProbeSource, Items: items}
	p.mu.Lock()
	p.last, p.inflight = v, nil
	p.mu.Unlock()
	close(ch)
	return v
}
