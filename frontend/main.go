// Command frontend is orderflow's HTTP service: the page, the orders API, the
// SSE status stream and the outbox reconciler. It authenticates to every Azure
// service with Microsoft Entra Workload ID; this file only wires the pieces.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/contoso/orderflow/frontend/api"
	"github.com/contoso/orderflow/frontend/feed"
	"github.com/contoso/orderflow/frontend/hub"
	"github.com/contoso/orderflow/frontend/web"
	"github.com/contoso/orderflow/platform/azure"
	"github.com/contoso/orderflow/platform/blob"
	"github.com/contoso/orderflow/platform/config"
	"github.com/contoso/orderflow/platform/cosmos"
	"github.com/contoso/orderflow/platform/doctor"
	"github.com/contoso/orderflow/platform/health"
	"github.com/contoso/orderflow/platform/identity"
	"github.com/contoso/orderflow/platform/keyvault"
	"github.com/contoso/orderflow/platform/metrics"
	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/servicebus"
	"github.com/contoso/orderflow/platform/telemetry"
)

func main() {
	// `frontend doctor` diagnoses the workload identity chain instead of serving: the
	// image is distroless, so the binary itself is the only tool in the pod.
	if len(os.Args) > 1 && os.Args[1] == "doctor" {
		os.Exit(doctor.Main(os.Args[2:], os.Getenv, os.Stdout, "frontend"))
	}
	// Logs go to a pipe under `localazure up` or a container runtime; if its reader
	// dies, a log write must fail quietly, not kill the service with SIGPIPE mid-drain.
	signal.Ignore(syscall.SIGPIPE)
	// The first SIGTERM or SIGINT starts the graceful stop; then the default handling
	// is back, so a second one kills the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	context.AfterFunc(ctx, stop)
	// Logs go to stdout, the container convention (and what `kubectl logs` and the
	// launcher show); stderr has only the final error below.
	err := run(ctx, os.Getenv, os.Stdout, nil)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "frontend:", err)
		os.Exit(config.ExitCode(err)) // 78 for a configuration error: restarting cannot help
	}
}

// run starts the service and blocks until ctx is cancelled (main's SIGTERM or
// SIGINT), then shuts down gracefully; every goroutine it started has returned
// when it does. ready, if not nil, receives the HTTP address once it listens (for
// tests).
func run(ctx context.Context, getenv func(string) string, logOut io.Writer, ready chan<- string) error {
	cfg, err := config.LoadFor(config.Frontend, getenv)
	if err != nil {
		return err // a *config.Error, which says "configuration: …" itself
	}
	log := telemetry.NewLogger(logOut, cfg.LogLevel, "frontend")
	telemetry.LogErrors(log)
	shutdownTracing, err := telemetry.Setup(ctx, "frontend", getenv)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	// Last of all (deferred first): flush the spans of the requests and events that
	// the graceful stop let finish.
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownTracing(cctx); err != nil {
			log.Warn("flushing traces", "err", err)
		}
	}()

	// The process's one metrics registry, served on the HTTP server's /metrics.
	reg := metrics.NewRegistry()
	m := metrics.New(reg, metrics.Frontend)
	clients, err := azure.New(cfg, log, azure.WithMetrics(m))
	if err != nil {
		return fmt.Errorf("azure clients: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = clients.Close(cctx)
	}()
	// Fail at start-up, with the credential's own explanation, when the pod has
	// no usable identity: better than a pod that is up and answers every order with
	// 500. CheckIdentity bounds itself (30 s, azure.CheckCredential).
	if err := clients.CheckIdentity(ctx); err != nil {
		return fmt.Errorf("workload identity: %w", err)
	}

	store := cosmos.New(clients.Orders)
	attachments := blob.NewAttachments(clients.Blob, cfg.Storage.AttachmentsContainer)
	receipts := blob.NewReceipts(clients.Blob, cfg.Storage.ReceiptsContainer)
	secrets := keyvault.New(clients.Secrets, cfg.KeyVault.SecretName, cfg.KeyVault.RefreshEvery, log)
	publisher, err := servicebus.NewPublisher(clients.ServiceBus, cfg.ServiceBus.OrdersQueue, servicebus.SourceFrontend, servicebus.WithMetrics(m))
	if err != nil {
		return fmt.Errorf("service bus publisher: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = publisher.Close(cctx)
	}()
	receiver, err := servicebus.NewSubscriptionReceiver(clients.ServiceBus, cfg.ServiceBus.EventsTopic, cfg.ServiceBus.EventsSubscription, servicebus.WithMetrics(m))
	if err != nil {
		return fmt.Errorf("service bus receiver: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = receiver.Close(cctx)
	}()
	catalog := orders.DefaultCatalog()
	hub := hub.NewHub()
	events := feed.New(receiver, hub, log)

	// The same checks as the backend's, one per dependency, with the defaults:
	// results cached 5 s, each check within health.DefaultTimeout (platform/health).
	checker := health.New([]health.Check{
		health.Entra(clients),
		health.KeyVault(secrets),
		health.Cosmos(store),
		health.Blob(attachments),
		health.ServiceBus(func() error { return events.Check(context.Background()) }),
	}, health.Options{Logger: log, Registerer: reg})
	server := api.NewServer(api.Deps{
		Orders: store, Attachments: attachments, Receipts: receipts, Publisher: publisher,
		Secrets: secrets, Catalog: catalog, Hub: hub, Checker: checker, Assets: web.Files(), Logger: log, Metrics: m,
		Identity: api.Identity{
			Service: "frontend", ClientID: cfg.Identity.ClientID, TenantID: cfg.Identity.TenantID,
			AuthorityHost: cfg.Identity.AuthorityHost, TokenFile: cfg.Identity.FederatedTokenFile,
			TraceView: cfg.Frontend.TraceViewURL,
		},
		// The panel's permissions: the doctor's read-only probes with this service's
		// clients, at most one round per 30 s (platform/identity).
		Permissions: identity.NewProber(func(ctx context.Context, timeout time.Duration) []doctor.Permission {
			return doctor.ReadPermissions(ctx, config.Frontend, cfg, clients, timeout)
		}, identity.ProberOptions{}),
		BackendHealthURL: cfg.Frontend.BackendHealthURL,
		Reconcile:        api.Reconcile{MinAge: cfg.Frontend.ReconcileMinAge, Interval: cfg.Frontend.ReconcileInterval},
	}, api.Limits{
		MaxBodyBytes:       cfg.Frontend.MaxBodyBytes,
		MaxAttachmentBytes: cfg.Frontend.MaxAttachmentBytes,
		AllowedTypes:       cfg.Frontend.AllowedAttachmentTypes,
	})

	// Listen before starting any goroutine, so that no return path leaves one running.
	ln, err := net.Listen("tcp", cfg.Frontend.HTTPAddr)
	if err != nil {
		return listenError("HTTP_ADDR", cfg.Frontend.HTTPAddr, err)
	}
	httpServer := &http.Server{
		Handler:           server,
		ReadHeaderTimeout: 10 * time.Second,
		// ReadTimeout is only the hard cap on one request: a 10 MiB attachment in
		// 5 minutes needs about 35 KB/s. A client that trickles is cut off much
		// sooner by the handlers' body rate floor (16 KiB per 10 s after the first
		// 10 s, see Limits.BodyMinBytes), which keeps this cap from being the only
		// defence. WriteTimeout matches it for downloading the same 10 MiB on the
		// same link; SSE streams clear their own write deadline.
		ReadTimeout:  5 * time.Minute,
		WriteTimeout: 5 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	// Background work stops when bg is cancelled, after the HTTP server drained, so
	// that requests in flight still have the feed, the key refresher and the
	// reconciler; every goroutine is joined before run returns.
	bg, cancelBG := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBG()
	httpServer.BaseContext = func(net.Listener) context.Context { return bg }
	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Go(func() {
		if err := httpServer.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			serveErr <- fmt.Errorf("http server: %w", err)
		}
	})
	wg.Go(func() { events.Run(bg) })
	wg.Go(func() { secrets.Run(bg) })
	if cfg.Frontend.ReconcileInterval > 0 {
		rec := &orders.Reconciler{Orders: store, Publisher: publisher, MinAge: cfg.Frontend.ReconcileMinAge, Logger: log,
			Resent: func(*orders.Order) { m.ReconcilerResends.Inc() }}
		wg.Go(func() { _ = rec.Run(bg, cfg.Frontend.ReconcileInterval) })
	}
	log.Info("frontend started", "addr", ln.Addr().String(), "auth", clients.Auth(),
		"reconcile_interval", cfg.Frontend.ReconcileInterval)
	if ready != nil {
		ready <- ln.Addr().String()
	}

	var failed error
	select {
	case failed = <-serveErr:
	case <-ctx.Done():
	}
	log.Info("frontend stopping", "timeout", cfg.ShutdownTimeout)
	shutdown(log, server, hub, httpServer, cfg.ShutdownTimeout, getenv)
	cancelBG()
	wg.Wait()
	log.Info("stopped")
	return failed
}

// shutdown stops taking traffic and drains within timeout: readiness fails
// first, then (on Kubernetes) a short pause lets the endpoint removal reach
// the load balancers, then SSE streams are told to end (Shutdown does not wait
// for or cancel hijacked-length responses like them), then in-flight requests
// get the rest of the deadline.
func shutdown(log *slog.Logger, server *api.Server, hub *hub.Hub, httpServer *http.Server, timeout time.Duration, getenv func(string) string) {
	deadline := time.Now().Add(timeout)
	server.BeginDrain()
	if getenv("KUBERNETES_SERVICE_HOST") != "" {
		time.Sleep(min(3*time.Second, timeout/4))
	}
	hub.Close()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := httpServer.Shutdown(ctx); err != nil {
		log.Warn("requests still running at the shutdown deadline; closing them", "err", err)
		_ = httpServer.Close()
	}
}

// listenError names the variable the address came from and, when the port is
// taken (most often by a copy of this service started by hand), the fix.
func listenError(variable, addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("listen on %s %s: %w\nfix: another process holds the port (a frontend started by hand, or left from an earlier run): stop it, "+
			"or set %s to a free address (locally: localazure up names the holder; LOCALAZURE_PORT_OFFSET=100 make run moves every port)", variable, addr, err, variable)
	}
	return fmt.Errorf("listen on %s %s: %w", variable, addr, err)
}
