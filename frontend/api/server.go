// Package http is the frontend's HTTP API and page: Echo routes and handlers that
// turn requests into calls on the platform/orders domain and map its errors to
// RFC 9457 problem details in one place (errors.go).
//
// The package depends on the domain's interfaces only; main wires the Azure
// adapters in and tests wire in-memory fakes.
package api

import (
	"github.com/contoso/orderflow/frontend/hub"
	"io/fs"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/contoso/orderflow/platform/identity"
	"github.com/contoso/orderflow/platform/metrics"
	"github.com/contoso/orderflow/platform/orders"
)

// Deps is what the server needs from the outside: the domain's ports plus the
// process-wide pieces main owns (the SSE hub fed by the topic receiver, the
// dependency checker, the identity the pod runs as).
type Deps struct {
	Orders      orders.OrderStore
	Attachments orders.AttachmentStore
	Receipts    orders.ReceiptStore
	Publisher   orders.Publisher
	Secrets     orders.SecretSource
	Catalog     *orders.Catalog

	Hub      *hub.Hub
	Checker  *Checker
	Identity Identity
	// Permissions probes what the identity may do, for the identity panel; nil
	// leaves the panel without permissions.
	Permissions *identity.Prober
	// BackendHealthURL is where the backend's GET /identity is (BACKEND_HEALTH_URL);
	// "" = the panel says the backend is not configured. BackendClient fetches it
	// (nil = a plain http.Client).
	BackendHealthURL string
	BackendClient    *http.Client
	// Reconcile is the outbox reconciler's schedule, for the orders' delivery hint.
	Reconcile Reconcile
	// Assets is the page (frontend/web); nil serves the API only.
	Assets fs.FS
	Logger *slog.Logger
	// TracerProvider makes the request and SSE spans; nil is otel's global one
	// (telemetry.Setup installs it in main).
	TracerProvider trace.TracerProvider
	// Now defaults to time.Now; tests pin it.
	Now func() time.Time
	// Metrics receives the request and order metrics and is served at GET /metrics;
	// nil records them nowhere (and /metrics is empty).
	Metrics *metrics.Metrics
}

// Limits bounds requests and tunes the SSE stream; zero fields take the defaults.
type Limits struct {
	// MaxBodyBytes bounds the JSON body of POST /api/orders (default orders.MaxBodyBytes).
	MaxBodyBytes int64
	// MaxAttachmentBytes bounds one attachment (default orders.MaxAttachmentBytes).
	MaxAttachmentBytes int64
	// AllowedTypes is the attachment media type allow-list (default orders.DefaultAttachmentTypes).
	AllowedTypes []string
	// Heartbeat is the interval of SSE comment lines that keep proxies from
	// closing an idle stream (default 15 s).
	Heartbeat time.Duration
	// Poll is how often an SSE stream re-reads the order from the store, the
	// fallback for events this replica's subscription did not get (default 3 s).
	Poll time.Duration
	// BodyMinBytes, BodyRateWindow and BodyRateGrace are the request body's rate
	// floor: after the grace, each window must bring BodyMinBytes (defaults 16 KiB,
	// 10 s, 10 s: about 13 kbit/s, below any working mobile link, so a 10 MiB upload
	// on a slow link still passes, while a trickling client is cut off within 20 s).
	BodyMinBytes                  int64
	BodyRateWindow, BodyRateGrace time.Duration
	// BodyMaxDuration caps reading one body however fast it comes (default 5 min,
	// the server's ReadTimeout, which the rate floor's read deadlines replace).
	BodyMaxDuration time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = orders.MaxBodyBytes
	}
	if l.MaxAttachmentBytes <= 0 {
		l.MaxAttachmentBytes = orders.MaxAttachmentBytes
	}
	if len(l.AllowedTypes) == 0 {
		l.AllowedTypes = orders.DefaultAttachmentTypes
	}
	if l.Heartbeat <= 0 {
		l.Heartbeat = 15 * time.Second
	}
	if l.Poll <= 0 {
		l.Poll = 3 * time.Second
	}
	if l.BodyMinBytes <= 0 {
		l.BodyMinBytes = 16 << 10
	}
	if l.BodyRateWindow <= 0 {
		l.BodyRateWindow = 10 * time.Second
	}
	if l.BodyRateGrace <= 0 {
		l.BodyRateGrace = 10 * time.Second
	}
	if l.BodyMaxDuration <= 0 {
		l.BodyMaxDuration = 5 * time.Minute
	}
	return l
}

// Server is the frontend's HTTP handler.
type Server struct {
	orders      orders.OrderStore
	attachments orders.AttachmentStore
	receipts    orders.ReceiptStore
	secrets     orders.SecretSource
	catalog     *orders.Catalog
	placer      *orders.Placer
	hub         *hub.Hub
	checker     *Checker
	identitySrc *identity.Source
	log         *slog.Logger
	limits      Limits
	now         func() time.Time
	tracer      trace.Tracer
	metrics     *metrics.Metrics
	reconcile   Reconcile
	// backendURL and backendClient fetch the backend's identity view.
	backendURL    string
	backendClient *http.Client

	// streams drives the SSE streams whose connections were taken over.
	streams *streamRegistry

	echo         *echo.Echo
	handler      http.Handler // echo inside the request span (requestTracing)
	drainingFlag atomic.Bool
}

// NewServer builds the routes. Deps.Hub and Deps.Checker may be nil in tests
// that do not exercise them; they then get empty ones.
func NewServer(d Deps, limits Limits) *Server {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Hub == nil {
		d.Hub = hub.NewHub()
	}
	if d.Checker == nil {
		d.Checker = NewChecker(nil, time.Second, time.Second, d.Logger)
	}
	if d.Catalog == nil {
		d.Catalog = orders.DefaultCatalog()
	}
	s := &Server{
		orders:        d.Orders,
		attachments:   d.Attachments,
		receipts:      d.Receipts,
		secrets:       d.Secrets,
		catalog:       d.Catalog,
		placer:        &orders.Placer{Orders: d.Orders, Publisher: d.Publisher, Catalog: d.Catalog, Logger: d.Logger, Now: d.Now},
		hub:           d.Hub,
		checker:       d.Checker,
		identitySrc:   &identity.Source{Info: d.Identity, Checker: d.Checker, Prober: d.Permissions, Logger: d.Logger},
		log:           d.Logger,
		limits:        limits.withDefaults(),
		now:           d.Now,
		metrics:       metrics.Or(d.Metrics),
		reconcile:     d.Reconcile,
		backendURL:    d.BackendHealthURL,
		backendClient: d.BackendClient,
		streams:       newStreamRegistry(),
	}
	if s.backendClient == nil {
		s.backendClient = &http.Client{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	tp := d.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	s.tracer = tp.Tracer(tracerName)
	s.echo = s.routes(d.Assets)
	s.handler = requestTracing(tp, s.echo)
	return s
}

// routes registers every endpoint; this list is the API at a glance.
func (s *Server) routes(assets fs.FS) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.Pre(headAsGet)
	e.Use(s.observeHTTP, routeSpan, requestLog(s.log), securityHeaders)

	e.GET("/healthz", healthz)
	e.GET("/readyz", s.readyz)
	e.GET(metrics.Path, echo.WrapHandler(s.metrics.Handler()))

	api := e.Group("/api")
	api.GET("/products", s.listProducts)
	api.POST("/orders", s.placeOrder)
	api.GET("/orders/:id", s.getOrder)
	api.POST("/orders/:id/attachments", s.uploadAttachment)
	api.GET("/orders/:id/attachments/:name", s.downloadAttachment)
	api.GET("/orders/:id/receipt", s.getReceipt)
	api.GET("/orders/:id/events", s.orderEvents)
	api.GET("/customers/:customerId/orders", s.listCustomerOrders)
	api.GET("/identity", s.identity)
	api.GET("/identity/backend", s.backendIdentity)

	if assets != nil {
		page := http.FileServerFS(assets)
		e.GET("/", echo.WrapHandler(page))
		for _, name := range []string{"/app.js", "/app.css"} {
			e.GET(name, echo.WrapHandler(page))
		}
	}
	return e
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// BeginDrain makes /readyz fail so load balancers stop sending new requests
// while in-flight ones finish; main calls it on SIGTERM.
func (s *Server) BeginDrain() { s.drainingFlag.Store(true) }

func (s *Server) draining() bool { return s.drainingFlag.Load() }
