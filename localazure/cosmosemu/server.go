package cosmosemu

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/contoso/orderflow/localazure/authz"
)

// EmulatorKey is the master key the official Azure Cosmos DB emulator publishes for
// everyone (it is not a secret); used when Options.MasterKey is empty so that
// emulator connection strings work unchanged.
const EmulatorKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

// Container declares a container to create at start.
type Container struct{ ID, PartitionKeyPath string } // e.g. {"orders", "/customerId"}

// Database declares a database and its containers to create at start.
type Database struct {
	ID         string
	Containers []Container
}

// Options configures a Server.
type Options struct {
	// Endpoint is the public base URL, e.g. "https://localhost:8081/". It goes into
	// the database account document, whose locations every SDK then sends requests
	// to. Empty: each request's own scheme and Host are used.
	Endpoint string
	// MasterKey is the base64 account key; default EmulatorKey.
	MasterKey string
	// Verifier validates Entra access tokens (type=aad). Nil: Entra auth is refused.
	Verifier authz.Verifier
	// Policy holds the data-plane role assignments for Entra principals.
	Policy *authz.Policy
	// Databases are created at start (if not already restored from DataDir).
	Databases []Database
	// DataDir, when set, holds a snapshot (cosmos.json) written shortly after changes
	// and restored at start. Empty: memory only.
	DataDir string
	// Logger receives request errors and persistence events; default slog.Default().
	Logger *slog.Logger
	// AccountName names the account in error messages; default "localhost".
	AccountName string
	// StrictIndexing makes ORDER BY over several properties require a matching
	// composite index in the container's indexing policy, as Azure does (it answers
	// 400 otherwise). Off by default: the stand-in then serves any ORDER BY.
	StrictIndexing bool
	// CompositeIndexes adds composite indexes to declared containers, keyed by
	// "<database>/<container>", each index as paths with an optional direction:
	// {"/status", "/createdAt DESC"} (kept apart from Container so that its literal
	// stays two strings).
	CompositeIndexes map[string][][]string
}

// Server is the Cosmos DB stand-in. It is safe for concurrent use.
type Server struct {
	opts     Options
	log      *slog.Logger
	endpoint *url.URL // nil when derived per request
	macPool  sync.Pool
	key      []byte
	audExtra []string
	clock    atomic.Pointer[func() time.Time] // replaceable in tests

	mu      sync.RWMutex
	dbs     map[string]*database
	dbOrder []string
	nextDB  uint32

	actPrefix string        // random prefix of generated activity ids
	actSeq    atomic.Uint64 // and their counter: cheaper than a random UUID per request
	epoch     uint32        // etag prefix, distinct per server start

	persist *persister

	offersMu sync.Mutex
	offers   map[string]*offer
	qcache   queryCache
	debug    bool // log every request at debug level

	done      chan struct{} // closed by Close: stops the background sweep
	closeOnce sync.Once
}

// New builds a Server and creates the declared databases and containers.
func New(opts Options) (*Server, error) {
	if opts.MasterKey == "" {
		opts.MasterKey = EmulatorKey
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.AccountName == "" {
		opts.AccountName = "localhost"
	}
	key, err := base64.StdEncoding.DecodeString(opts.MasterKey)
	if err != nil {
		return nil, fmt.Errorf("cosmos: master key is not base64: %w", err)
	}
	s := &Server{opts: opts, log: opts.Logger.With("service", "cosmos"), key: key,
		dbs: map[string]*database{}, done: make(chan struct{})}
	s.macPool.New = func() any { return newMAC(key) }
	s.setClock(time.Now)
	s.debug = s.log.Enabled(context.Background(), slog.LevelDebug)
	if opts.Endpoint != "" {
		u, err := url.Parse(opts.Endpoint)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("cosmos: endpoint %q is not an absolute URL: %v", opts.Endpoint, err)
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		s.endpoint = u
		s.audExtra = append(s.audExtra, "https://"+u.Hostname(), u.Scheme+"://"+u.Hostname())
	}
	var rb [8]byte
	if _, err := rand.Read(rb[:]); err != nil {
		return nil, fmt.Errorf("cosmos: random: %w", err)
	}
	s.actPrefix = hex.EncodeToString(rb[:4]) + "-" + hex.EncodeToString(rb[4:6]) + "-4" + hex.EncodeToString(rb[6:])[1:] + "-8000-"
	s.epoch = uint32(time.Now().Unix())

	if opts.DataDir != "" {
		s.persist = newPersister(s, opts.DataDir)
		if err := s.persist.load(); err != nil {
			return nil, err
		}
	}
	for _, d := range opts.Databases {
		db, _, err := s.createDatabase(d.ID, true)
		if err != nil {
			return nil, fmt.Errorf("cosmos: create database %q: %w", d.ID, err)
		}
		for _, c := range d.Containers {
			props := map[string]any{"id": c.ID, "partitionKey": map[string]any{
				"paths": []any{c.PartitionKeyPath}, "kind": "Hash", "version": float64(2)}}
			if ci := opts.CompositeIndexes[d.ID+"/"+c.ID]; len(ci) > 0 {
				props["indexingPolicy"] = indexingPolicyWith(ci)
			}
			coll, created, err := s.createCollection(db, props, true)
			if err != nil {
				return nil, fmt.Errorf("cosmos: create container %q/%q: %w", d.ID, c.ID, err)
			}
			if have := strings.Join(coll.paths[0], "/"); !created && len(coll.paths) == 1 && "/"+have != c.PartitionKeyPath {
				// Restored from DataDir with another key: the data decides, as a
				// partition key cannot change in Cosmos either.
				s.log.Warn("container exists with a different partition key", "database", d.ID, "container", c.ID,
					"existing", "/"+have, "declared", c.PartitionKeyPath)
			}
			if created {
				content, _ := offerContent(nil, false)
				s.addOffer("dbs/"+db.rid+"/colls/"+coll.rid+"/", coll.rid, content)
			}
		}
	}
	if s.persist != nil {
		if err := s.persist.start(); err != nil {
			return nil, err
		}
	}
	go s.sweep()
	return s, nil
}

// Handler returns the HTTP handler to serve (over TLS, HTTP/1.1 preferred).
func (s *Server) Handler() http.Handler { return s }

// Close stops the background work (TTL sweep, snapshot loop) and, when DataDir is
// set, writes a final snapshot.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	if s.persist == nil {
		return nil
	}
	return s.persist.stop()
}

// sweepInterval is how often items whose time-to-live has passed are removed from
// memory (they are invisible from the moment they expire; this only frees them).
const sweepInterval = 10 * time.Second

// sweep runs until Close, purging expired items of containers with TTL on.
func (s *Server) sweep() {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			for _, c := range s.allCollections() {
				s.purgeExpired(c)
			}
		}
	}
}

// allCollections lists every container of every database.
func (s *Server) allCollections() []*collection {
	s.mu.RLock()
	dbs := make([]*database, 0, len(s.dbs))
	for _, d := range s.dbs {
		dbs = append(dbs, d)
	}
	s.mu.RUnlock()
	var out []*collection
	for _, d := range dbs {
		d.mu.RLock()
		for _, c := range d.colls {
			out = append(out, c)
		}
		d.mu.RUnlock()
	}
	return out
}

// activityID returns the client's activity id when it sent one, else a fresh one.
func (s *Server) activityID(r *http.Request) string {
	if a := r.Header.Get("x-ms-activity-id"); a != "" {
		return a
	}
	return fmt.Sprintf("%s%012x", s.actPrefix, s.actSeq.Add(1))
}

// baseURL is the account endpoint as the client must see it.
func (s *Server) baseURL(r *http.Request) string {
	if s.endpoint != nil {
		return s.endpoint.String()
	}
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host + "/"
}

// request carries what every handler needs about one call.
type request struct {
	r        *http.Request
	w        http.ResponseWriter
	activity string
	segs     []string // unescaped path segments
	resType  string   // resource type for auth ("", dbs, colls, docs, pkranges, ...)
	resLink  string   // resource link for auth (case preserved)
	auth     authResult
}

// ServeHTTP routes by path shape: /, /dbs[/{db}[/colls[/{coll}[/docs[/{id}]|/pkranges]]]].
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.debug {
		// Request logging only when asked for: the wrapper costs an allocation.
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
				"duration", time.Since(start), "activity", firstValue(w.Header(), hActivity))
		}()
		w = rec
	}
	q := &request{r: r, w: w, activity: s.activityID(r)}
	segs, ok := splitPath(r.URL.EscapedPath())
	if !ok {
		s.fail(q, errBadRequest("The request URL is invalid."))
		return
	}
	q.segs = segs
	q.resType, q.resLink = resourceOf(segs)
	if err := s.authenticate(q); err != nil {
		s.fail(q, err)
		return
	}
	var err *apiError
	switch n := len(segs); {
	case n == 0:
		err = s.handleAccount(q)
	case segs[0] == "offers":
		err = s.handleOffers(q)
	case segs[0] == "addresses":
		// .NET and Java default to direct mode, which resolves replica addresses here.
		err = errBadRequest("Direct connectivity mode is not supported by the local Cosmos DB stand-in: configure the SDK for gateway mode (.NET ConnectionMode.Gateway, Java gatewayMode()).")
	case segs[0] != "dbs":
		err = errNotFound("Resource Not Found. Learn more: https://aka.ms/cosmosdb-tsg-not-found")
	case n == 1:
		err = s.handleDatabases(q)
	case n == 2:
		err = s.handleDatabase(q, segs[1])
	case segs[2] != "colls":
		err = errUnsupported(segs[2])
	case n == 3:
		err = s.handleCollections(q, segs[1])
	case n == 4:
		err = s.handleCollection(q, segs[1], segs[3])
	case segs[4] == "pkranges" && n == 5:
		err = s.handlePKRanges(q, segs[1], segs[3])
	case segs[4] == "pkranges" && n == 6:
		err = s.handlePKRanges(q, segs[1], segs[3])
	case segs[4] != "docs":
		err = errUnsupported(segs[4])
	case n == 5:
		err = s.handleDocs(q, segs[1], segs[3])
	case n == 6:
		err = s.handleDoc(q, segs[1], segs[3], segs[5])
	default:
		err = errUnsupported(segs[6])
	}
	if err != nil {
		s.fail(q, err)
	}
}

// splitPath splits and unescapes the path; a trailing slash is ignored.
func splitPath(p string) ([]string, bool) {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil, true
	}
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.IndexByte(s, '%') < 0 {
			continue
		}
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, false
		}
		parts[i] = u
	}
	return parts, true
}

// resourceOf derives the resource type and link the signature covers: a path that
// ends in an id names that resource (type = the segment before it); a path that ends
// in a type names the feed of that type under its parent.
func resourceOf(segs []string) (typ, link string) {
	n := len(segs)
	switch {
	case n == 0:
		return "", ""
	case n%2 == 0:
		if link, ok := offersLink(segs); ok {
			return "offers", link
		}
		return segs[n-2], strings.Join(segs, "/")
	default:
		return segs[n-1], strings.Join(segs[:n-1], "/")
	}
}

// Response header names as the gateway spells them: lowercase etag and x-ms-* (the
// REST reference's "Common response headers" table,
// https://learn.microsoft.com/rest/api/cosmos-db/common-cosmosdb-rest-response-headers).
// They are assigned to the header map directly, because http.Header.Set would
// canonicalise them to X-Ms-*, and a client that looks names up case-sensitively
// (many non-Go HTTP stacks do) would then miss the continuation, session token and
// substatus. Go clients are unaffected: they canonicalise on receipt.
const (
	hCharge       = "x-ms-request-charge"
	hActivity     = "x-ms-activity-id"
	hSession      = "x-ms-session-token"
	hItemCount    = "x-ms-item-count"
	hContinuation = "x-ms-continuation"
	hETag         = "etag"
	hContentType  = "Content-Type"
	hSubstatus    = "x-ms-substatus"
	hAltPath      = "x-ms-alt-content-path"
	hSchema       = "x-ms-schemaversion"
	hGateway      = "x-ms-gatewayversion"
	hServerVer    = "x-ms-serviceversion"
	hLastModified = "Last-Modified"
	hResQuota     = "x-ms-resource-quota"
	hResUsage     = "x-ms-resource-usage"
	hQueryMetrics = "x-ms-documentdb-query-metrics"
)

var (
	ctJSON       = []string{"application/json"}
	schemaValue  = []string{"1.18"}
	gatewayValue = []string{"2.0.0"}
	serviceValue = []string{"version=2.14.0.0"}
)

// setCommon sets the headers every Cosmos response carries.
func (s *Server) setCommon(q *request, charge string) http.Header {
	h := q.w.Header()
	h[hActivity] = []string{q.activity}
	h[hCharge] = []string{charge}
	h[hContentType] = ctJSON
	h[hSchema] = schemaValue
	h[hGateway] = gatewayValue
	h[hServerVer] = serviceValue
	return h
}

// sessionToken renders a session token for a container: <pkrange>:<version>#<lsn>.
func sessionToken(c *collection) string {
	return "0:-1#" + strconv.FormatUint(c.lsn.Load(), 10)
}

// writeJSON writes a complete JSON response.
func (s *Server) writeJSON(q *request, status int, charge string, body []byte) {
	h := s.setCommon(q, charge)
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	q.w.WriteHeader(status)
	if q.r.Method != http.MethodHead && status != http.StatusNoContent && status != http.StatusNotModified {
		_, _ = q.w.Write(body)
	}
}

// now is the server's clock: dates in signatures, _ts, time-to-live.
func (s *Server) now() time.Time { return (*s.clock.Load())() }

func (s *Server) setClock(f func() time.Time) { s.clock.Store(&f) }

// statusRecorder remembers the status code for the debug request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// firstValue reads a header this package assigned directly under a lowercase name,
// which http.Header.Get (it canonicalises the key) would not find.
func firstValue(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}
