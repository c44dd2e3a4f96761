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
	"syscall"
	"time"

	"github.com/contoso/orderflow/backend/health"
	"github.com/contoso/orderflow/backend/worker"
	"github.com/contoso/orderflow/platform/azure"
	"github.com/contoso/orderflow/platform/blob"
	"github.com/contoso/orderflow/platform/config"
	"github.com/contoso/orderflow/platform/cosmos"
	"github.com/contoso/orderflow/platform/doctor"
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
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(config.ExitCode(err)) // 78 for a configuration error: restarting cannot help
	}
}

// run starts the worker and the health server and blocks until ctx is cancelled
// (SIGTERM), then shuts down gracefully. ready, if not nil, receives the health
// server's address once it listens (for tests).
func run(ctx context.Context, getenv func(string) string, logOut io.Writer, ready chan<- string) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := telemetry.NewLogger(logOut, cfg.LogLevel, "backend")
	telemetry.LogErrors(log)
	shutdownTracing, err := telemetry.Setup(ctx, "backend", getenv)
	if err != nil {
		return err
	}
	// Last of all (deferred first): flush the spans of the work that just stopped.
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownTracing(c); err != nil {
			log.Warn("flushing traces", "err", err)
		}
	}()

	// The process's one metrics registry, served on the health server's /metrics.
	m := metrics.New(metrics.NewRegistry(), metrics.Backend)
	clients, err := azure.New(cfg, log, azure.WithMetrics(m))
	if err != nil {
		return err
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = clients.Close(c)
	}()
	if err := clients.CheckIdentity(ctx); err != nil {
		return err
	}

	store := cosmos.New(clients.Orders)
	receipts := blob.NewReceipts(clients.Blob, cfg.Storage.ReceiptsContainer)
	secrets := keyvault.New(clients.Secrets, cfg.KeyVault.SecretName, cfg.KeyVault.RefreshEvery, log)
	events, err := servicebus.NewEventPublisher(clients.ServiceBus, cfg.ServiceBus.EventsTopic, servicebus.SourceBackend, servicebus.WithMetrics(m))
	if err != nil {
		return err
	}
	queue, err := servicebus.NewQueueReceiver(clients.ServiceBus, cfg.ServiceBus.OrdersQueue, servicebus.WithMetrics(m))
	if err != nil {
		return err
	}

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
		ShutdownTimeout:   cfg.ShutdownTimeout,
	}

	checker := &health.Checker{Metrics: m.Handler(), Checks: map[string]health.Check{
		"identity":   clients.CheckIdentity,
		"cosmos":     store.Ping,
		"blob":       receipts.Ping,
		"keyvault":   func(ctx context.Context) error { _, _, err := secrets.SigningKey(ctx); return err },
		"servicebus": func(context.Context) error { return w.Healthy() },
	}}
	ln, err := net.Listen("tcp", cfg.Backend.HealthAddr)
	if err != nil {
		return fmt.Errorf("listen on HEALTH_ADDR %s: %w", cfg.Backend.HealthAddr, err)
	}
	srv := &http.Server{Handler: checker.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("health server stopped", "err", err)
		}
	}()
	if ready != nil {
		ready <- ln.Addr().String()
	}

	go secrets.Run(ctx)
	log.Info("backend started", "queue", cfg.ServiceBus.OrdersQueue, "concurrency", w.Concurrency,
		"prefetch", w.Prefetch, "health_addr", ln.Addr().String())
	_ = w.Run(ctx) // returns once ctx is cancelled and in-flight work is done

	log.Info("backend stopping", "processed", w.Processed())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	_ = queue.Close(shutdownCtx)
	_ = events.Close(shutdownCtx)
	return nil
}
