// Command backend is the orderflow worker: it receives OrderPlaced from the orders
// queue, issues a signed receipt, completes the order and publishes OrderCompleted.
// This file only wires the pieces together; the logic is in worker/.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/contoso/orderflow/backend/health"
	"github.com/contoso/orderflow/backend/worker"
	"github.com/contoso/orderflow/platform/azure"
	"github.com/contoso/orderflow/platform/blob"
	"github.com/contoso/orderflow/platform/config"
	"github.com/contoso/orderflow/platform/cosmos"
	"github.com/contoso/orderflow/platform/doctor"
	phealth "github.com/contoso/orderflow/platform/health"
	"github.com/contoso/orderflow/platform/identity"
	"github.com/contoso/orderflow/platform/keyvault"
	"github.com/contoso/orderflow/platform/metrics"
	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/servicebus"
	"github.com/contoso/orderflow/platform/telemetry"
)

func main() {
	// `backend doctor` diagnoses the workload identity chain instead of serving: the
	// image is distroless, so the binary itself is the only tool in the pod.
	if len(os.Args) > 1 && os.Args[1] == "doctor" {
		os.Exit(doctor.Main(os.Args[2:], os.Getenv, os.Stdout, "backend"))
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
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(config.ExitCode(err)) // 78 for a configuration error: restarting cannot help
	}
}

// run starts the worker and the health server and blocks until ctx is cancelled
// (main's SIGTERM or SIGINT), then shuts down gracefully; every goroutine it
// started has returned when it does. ready, if not nil, receives the health
// server's address once it listens (for tests).
func run(ctx context.Context, getenv func(string) string, logOut io.Writer, ready chan<- string) error {
	cfg, err := config.LoadFor(config.Backend, getenv)
	if err != nil {
		return err // a *config.Error, which says "configuration: …" itself
	}
	log := telemetry.NewLogger(logOut, cfg.LogLevel, "backend")
	telemetry.LogErrors(log)
	shutdownTracing, err := telemetry.Setup(ctx, "backend", getenv)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	// Last of all (deferred first): flush the spans of the work that just stopped.
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownTracing(cctx); err != nil {
			log.Warn("flushing traces", "err", err)
		}
	}()

	// The process's one metrics registry, served on the health server's /metrics.
	reg := metrics.NewRegistry()
	m := metrics.New(reg, metrics.Backend)
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
	// no usable identity: better than a worker that is up and fails every order.
	// CheckIdentity bounds itself (30 s, azure.CheckCredential).
	if err := clients.CheckIdentity(ctx); err != nil {
		return fmt.Errorf("workload identity: %w", err)
	}

	store := cosmos.New(clients.Orders)
	receipts := blob.NewReceipts(clients.Blob, cfg.Storage.ReceiptsContainer)
	secrets := keyvault.New(clients.Secrets, cfg.KeyVault.SecretName, cfg.KeyVault.RefreshEvery, log)
	events, err := servicebus.NewEventPublisher(clients.ServiceBus, cfg.ServiceBus.EventsTopic, servicebus.SourceBackend, servicebus.WithMetrics(m))
	if err != nil {
		return fmt.Errorf("service bus publisher: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = events.Close(cctx)
	}()
	queue, err := servicebus.NewQueueReceiver(clients.ServiceBus, cfg.ServiceBus.OrdersQueue, servicebus.WithMetrics(m))
	if err != nil {
		return fmt.Errorf("service bus receiver: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = queue.Close(cctx)
	}()

	w := &worker.Worker{
		Queue: queue,
		Handler: &worker.Processor{
			Orders: store, Receipts: receipts, Events: events, Secrets: secrets,
			Catalog: orders.DefaultCatalog(), Log: log, Metrics: m,
		},
		Metrics:           m,
		Log:               log,
		Concurrency:       cfg.Backend.Concurrency,
		Prefetch:          cfg.Backend.Prefetch,
		LockRenewInterval: cfg.Backend.LockRenewInterval,
		ProcessingDelay:   cfg.Backend.ProcessingDelay,
		ShutdownTimeout:   cfg.ShutdownTimeout,
	}

	// The same checks as the frontend's, one per dependency, with the defaults:
	// results cached 5 s, each check within health.DefaultTimeout (platform/health).
	checker := phealth.New([]phealth.Check{
		phealth.Entra(clients),
		phealth.KeyVault(secrets),
		phealth.Cosmos(store),
		phealth.Blob(receipts),
		phealth.ServiceBus(w.Healthy),
	}, phealth.Options{Logger: log, Registerer: reg})

	// Listen before starting any goroutine, so that no return path leaves one running.
	ln, err := net.Listen("tcp", cfg.Backend.HealthAddr)
	if err != nil {
		return listenError("HEALTH_ADDR", cfg.Backend.HealthAddr, err)
	}
	// The identity panel's backend half (GET /identity): permissions from the doctor's
	// read-only probes, at most one round per 30 s (platform/identity).
	ident := &identity.Source{
		Info: identity.Info{
			Service: "backend", ClientID: cfg.Identity.ClientID, TenantID: cfg.Identity.TenantID,
			AuthorityHost: cfg.Identity.AuthorityHost, TokenFile: cfg.Identity.FederatedTokenFile,
		},
		Checker: checker,
		Prober: identity.NewProber(func(ctx context.Context, timeout time.Duration) []doctor.Permission {
			return doctor.ReadPermissions(ctx, config.Backend, cfg, clients, timeout)
		}, identity.ProberOptions{}),
		Logger: log,
	}
	srv := &http.Server{Handler: health.Handler(checker, m.Handler(), ident), ReadHeaderTimeout: 5 * time.Second}

	// Background work stops when bg is cancelled, after the worker drained, so that
	// messages in flight still have the key refresher and the health server; every
	// goroutine is joined before run returns.
	bg, cancelBG := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBG()
	// The worker stops on ctx, or when the health server fails: a backend nobody
	// can probe or scrape is restarted rather than left running blind.
	work, stopWork := context.WithCancel(ctx)
	defer stopWork()
	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Go(func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			serveErr <- fmt.Errorf("health server: %w", err)
			stopWork()
		}
	})
	wg.Go(func() { secrets.Run(bg) })
	log.Info("backend started", "queue", cfg.ServiceBus.OrdersQueue, "concurrency", w.Concurrency,
		"prefetch", w.Prefetch, "health_addr", ln.Addr().String())
	if ready != nil {
		ready <- ln.Addr().String()
	}

	_ = w.Run(work) // returns once work is cancelled and in-flight work is done

	log.Info("backend stopping", "processed", w.Processed())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	cancelBG()
	wg.Wait()
	var failed error
	select {
	case failed = <-serveErr:
	default:
	}
	log.Info("stopped")
	return failed
}

// listenError names the variable the address came from and, when the port is
// taken (most often by a copy of this service started by hand), the fix.
func listenError(variable, addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("listen on %s %s: %w\nfix: another process holds the port (a backend started by hand, or left from an earlier run): stop it, "+
			"or set %s to a free address (locally: localazure up names the holder; LOCALAZURE_PORT_OFFSET=100 make run moves every port)", variable, addr, err, variable)
	}
	return fmt.Errorf("listen on %s %s: %w", variable, addr, err)
}
