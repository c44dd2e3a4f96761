// Package servicebusemu is a local Service Bus broker: queues, topics with
// filtered subscriptions, dead-letter queues, peek-lock with lock renewal,
// deferral, scheduling, duplicate detection and TTL, spoken over AMQP 1.0 the way
// Azure Service Bus speaks it, so the official clients (azservicebus and the
// other languages' SDKs) work against it unchanged. Authorization follows Service
// Bus: SAS tokens or Entra ID tokens put to the $cbs node, with Send/Listen/Manage
// rights or the Azure Service Bus Data roles checked per entity.
package servicebusemu

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/contoso/orderflow/localazure/amqp"
	"github.com/contoso/orderflow/localazure/authz"
)

// SASKey is a shared access policy: a key name, its key and its rights
// ("Send", "Listen", "Manage"; Manage implies the other two).
type SASKey struct {
	Name   string
	Key    string
	Rights []string
}

// EmulatorKey is the key the official emulator's connection string carries.
const EmulatorKey = "SAS_KEY_VALUE"

// Options configures a Broker.
type Options struct {
	// Namespace is the FQDN clients use, e.g. "localhost" or
	// "sb-orderflow.servicebus.windows.net". Token audiences name entities under
	// it; any host is accepted in audiences, since clients differ in what they put there.
	Namespace string
	Entities  UserConfig
	// SASKeys default to RootManageSharedAccessKey with the emulator's
	// well-known key "SAS_KEY_VALUE" and all rights.
	SASKeys  []SASKey
	Verifier authz.Verifier // nil = JWTs refused
	Policy   *authz.Policy
	DataDir  string // "" = in memory
	Logger   *slog.Logger

	// IdleTimeout is the AMQP idle timeout advertised to clients (default 60 s).
	IdleTimeout time.Duration
	// SweepInterval is how often locks, schedules and TTLs are checked (default 100 ms).
	SweepInterval time.Duration
}

// Broker is a running local Service Bus namespace.
type Broker struct {
	opts    Options
	log     *slog.Logger
	keys    map[string]SASKey
	queues  map[string]*entity // lower-case name -> queue
	topics  map[string]*topic
	subs    map[string]*entity // "topic/subscriptions/sub" lower-case
	stores  []*entity          // every store, DLQs included, for the sweeper
	persist *persister

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*amqp.Conn]struct{}
	sockets   map[net.Conn]struct{} // every accepted socket, for those still in the handshake at Close
	closed    bool
	stop      chan struct{}
	wg        sync.WaitGroup
}

// ErrClosed is returned by Serve after Close.
var ErrClosed = errors.New("servicebus: broker closed")

// New builds a broker from opts; the entities are validated first.
func New(opts Options) (*Broker, error) {
	if err := opts.Entities.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Namespace == "" {
		opts.Namespace = "localhost"
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 60 * time.Second
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = 100 * time.Millisecond
	}
	if len(opts.SASKeys) == 0 {
		opts.SASKeys = []SASKey{{Name: "RootManageSharedAccessKey", Key: EmulatorKey, Rights: []string{"Manage", "Send", "Listen"}}}
	}
	b := &Broker{opts: opts, log: opts.Logger, keys: map[string]SASKey{}, queues: map[string]*entity{},
		topics: map[string]*topic{}, subs: map[string]*entity{}, listeners: map[net.Listener]struct{}{},
		conns: map[*amqp.Conn]struct{}{}, sockets: map[net.Conn]struct{}{}, stop: make(chan struct{})}
	for _, k := range opts.SASKeys {
		if k.Name == "" || k.Key == "" {
			return nil, fmt.Errorf("servicebus: SAS key %q needs both a name and a key", k.Name)
		}
		b.keys[k.Name] = k
	}
	for _, ns := range opts.Entities.Namespaces {
		for _, q := range ns.Queues {
			set := settingsOf(q.Properties)
			s := newStore(b, q.Name, q.Name, "servicebus/"+q.Name, set, true)
			b.queues[strings.ToLower(q.Name)] = s
			b.stores = append(b.stores, s, s.dlq)
		}
		for _, t := range ns.Topics {
			tset := settingsOf(QueueProperties{DefaultMessageTimeToLive: t.Properties.DefaultMessageTimeToLive,
				DuplicateDetectionHistoryTimeWindow: t.Properties.DuplicateDetectionHistoryTimeWindow,
				RequiresDuplicateDetection:          t.Properties.RequiresDuplicateDetection})
			tp := &topic{b: b, name: t.Name, set: tset, nextSeq: 1, dup: map[string]time.Time{},
				scheduled: map[int64]*msgData{}, schedAt: map[int64]time.Time{}}
			for _, sc := range t.Subscriptions {
				set := settingsOf(sc.Properties)
				if set.ttl == 0 || (tset.ttl > 0 && tset.ttl < set.ttl) {
					set.ttl = tset.ttl
				}
				path := t.Name + "/Subscriptions/" + sc.Name
				s := newStore(b, path, path, "servicebus/"+t.Name+"/subscriptions/"+sc.Name, set, true)
				sub := &subscription{name: sc.Name, entity: s}
				for _, r := range sc.Rules {
					compiled, err := compileRule(r)
					if err != nil {
						return nil, err // Validate compiled it already
					}
					sub.rules = append(sub.rules, compiled)
				}
				if len(sc.Rules) == 0 {
					sub.rules = []rule{{filter: trueFilter{}}}
				}
				tp.subs = append(tp.subs, sub)
				b.subs[strings.ToLower(t.Name+"/subscriptions/"+sc.Name)] = s
				b.stores = append(b.stores, s, s.dlq)
			}
			b.topics[strings.ToLower(t.Name)] = tp
		}
	}
	if opts.DataDir != "" {
		p, err := openPersister(b, opts.DataDir)
		if err != nil {
			return nil, err
		}
		b.persist = p
	}
	b.wg.Add(1)
	go b.sweeper()
	return b, nil
}

// Serve accepts AMQP connections on ln until Close. It may run for several
// listeners at once (plain AMQP and a TLS-wrapped one for AMQPS).
func (b *Broker) Serve(ln net.Listener) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.listeners[ln] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.listeners, ln)
		b.mu.Unlock()
	}()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			b.mu.Lock()
			closed := b.closed
			b.mu.Unlock()
			if closed {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("servicebus: accepting connections: %w", err)
		}
		delay = 0
		if !b.track(nc) {
			nc.Close()
			return ErrClosed
		}
		go func() {
			defer b.untrack(nc)
			b.serveConn(nc)
		}()
	}
}

// track registers an accepted socket so that Close can end it; false once closed.
func (b *Broker) track(nc net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.sockets[nc] = struct{}{}
	b.wg.Add(1)
	return true
}

func (b *Broker) untrack(nc net.Conn) {
	b.mu.Lock()
	delete(b.sockets, nc)
	b.mu.Unlock()
	b.wg.Done()
}

func (b *Broker) serveConn(nc net.Conn) {
	err := amqp.ServeConn(nc, amqp.Config{
		ContainerID:  "localazure-servicebus",
		MaxFrameSize: 65536,
		IdleTimeout:  b.opts.IdleTimeout,
		Logger:       b.log,
		Handler: func(c *amqp.Conn) amqp.ConnHandler {
			h := newConnHandler(b, c)
			b.mu.Lock()
			if b.closed {
				b.mu.Unlock()
				go c.Close(&amqp.Error{Condition: amqp.ErrConnForced, Description: "the broker is shutting down"})
				return h
			}
			b.conns[c] = struct{}{}
			b.mu.Unlock()
			return h
		},
	})
	if err != nil {
		b.log.Debug("connection ended", "remote", fmt.Sprint(nc.RemoteAddr()), "err", err)
	}
}

func (b *Broker) forgetConn(c *amqp.Conn) {
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
}

// Close stops accepting, closes every connection with a proper CLOSE
// (amqp:connection:forced) and stops the broker.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.stop)
	for ln := range b.listeners {
		ln.Close()
	}
	conns := make([]*amqp.Conn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Close(&amqp.Error{Condition: amqp.ErrConnForced, Description: "the broker is shutting down"})
		}()
	}
	wg.Wait()
	// Sockets still in the protocol or SASL handshake are not AMQP connections
	// yet: end their reads now rather than waiting out the handshake timeout.
	b.mu.Lock()
	for nc := range b.sockets {
		_ = nc.SetDeadline(time.Now())
	}
	b.mu.Unlock()
	b.wg.Wait()
	if b.persist != nil {
		return b.persist.close()
	}
	return nil
}

// sweeper expires locks and TTLs and releases scheduled messages.
func (b *Broker) sweeper() {
	defer b.wg.Done()
	t := time.NewTicker(b.opts.SweepInterval)
	defer t.Stop()
	var mem memoryReturner
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			held := 0
			for _, s := range b.stores {
				s.sweep(now)
				held += s.count()
			}
			if mem.observe(held, now, returnMemory) {
				b.log.Debug("returned freed memory to the system after the entities drained", "peak_messages", mem.peak)
			}
			for _, tp := range b.topics {
				tp.sweep(now)
			}
		}
	}
}

// maxForwardHops is Service Bus's limit on auto-forwarding chains.
const maxForwardHops = 4

// forward sends d, which arrived at from, to the queue or topic named target
// (auto-forwarding). A message that has been forwarded maxForwardHops times
// already (a chain too long, or a cycle) is dead-lettered at from instead.
func (b *Broker) forward(from *entity, target string, d *msgData) {
	now := time.Now()
	if d.hops >= maxForwardHops {
		b.log.Warn("servicebus: auto-forwarding chain too long; dead-lettering", "entity", from.name, "target", target)
		if from.dlq != nil {
			from.dlq.enqueue(d.withAppProps(map[string]any{propDLReason: "MaxTransferHopCountExceeded",
				propDLDescription: fmt.Sprintf("The message was forwarded more than %d times.", maxForwardHops)}), now)
		}
		return
	}
	fwd := *d
	fwd.hops++
	d = &fwd
	if q := b.queues[strings.ToLower(target)]; q != nil {
		q.send(d, now) // the target may forward again
		return
	}
	if t := b.topics[strings.ToLower(target)]; t != nil {
		t.publish(d, now)
	}
}

// MessageCount reports how many messages an entity (a queue, a subscription or a
// dead-letter queue, named as clients name them) holds, in any state; ok is false
// for unknown entities and topics. For tests and tooling.
func (b *Broker) MessageCount(entity string) (int, bool) {
	r, ok := b.resolve(entity)
	if !ok || r.entity == nil {
		return 0, false
	}
	return r.entity.count(), true
}

// entityRef is what an address names.
type entityRef struct {
	path   string // canonical lower-case path without $management
	queue  *entity
	topic  *topic
	entity *entity // the queue, subscription or DLQ store to receive from
	// sendScope is the RBAC scope for sending (queues and topics only).
	sendScope string
	mgmt      bool
}

// resolve maps a link address (absolute URL or path, any case) to an entity.
func (b *Broker) resolve(addr string) (entityRef, bool) {
	p := entityPath(addr)
	var r entityRef
	if rest, ok := strings.CutSuffix(p, "/$management"); ok {
		p, r.mgmt = rest, true
	}
	r.path = p
	dlq := false
	if rest, ok := strings.CutSuffix(p, "/$deadletterqueue"); ok {
		p, dlq = rest, true
	}
	if q := b.queues[p]; q != nil {
		r.queue, r.entity, r.sendScope = q, q, "servicebus/"+q.name
		if dlq {
			r.queue, r.entity, r.sendScope = nil, q.dlq, ""
		}
		return r, true
	}
	if t := b.topics[p]; t != nil && !dlq {
		r.topic, r.sendScope = t, "servicebus/"+t.name
		return r, true
	}
	if s := b.subs[p]; s != nil {
		r.entity = s
		if dlq {
			r.entity = s.dlq
		}
		return r, true
	}
	return r, false
}

// entityPath strips scheme and host from an address and lower-cases it:
// "amqps://ns.servicebus.windows.net:5671/Orders/" -> "orders".
func entityPath(addr string) string {
	a := addr
	if i := strings.Index(a, "://"); i >= 0 {
		a = a[i+3:]
		if j := strings.IndexByte(a, '/'); j >= 0 {
			a = a[j:]
		} else {
			a = ""
		}
	}
	return strings.ToLower(strings.Trim(a, "/"))
}
