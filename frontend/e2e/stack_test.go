package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/contoso/orderflow/localazure/fault"
	"github.com/contoso/orderflow/localazure/stack"
	"github.com/contoso/orderflow/localazure/stack/stacktest"
)

// localStack is the part of the local stack the tests use.
type localStack interface {
	// Env is the environment `localazure up` gives a workload ("frontend", "backend").
	Env(workload string) map[string]string
	// Faults injects failures into the stand-ins (fault_test.go).
	Faults() *fault.Injector
	Close() error
}

// startStack starts the local stand-ins in this process, on ephemeral ports. Unlike
// the packages that share a stacktest.Harness, TestMain here does more once the
// stack runs (it builds and starts both services), so it starts the stack itself,
// with stacktest's rule for when a missing stand-in skips.
// Azurite comes from npm (scripts/install-test-deps.sh); without it the tests
// skip locally, but fail in CI, where its absence is a broken setup.
func startStack(ctx context.Context) (localStack, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(&prefixWriter{prefix: "localazure: ", w: env.logs}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := stack.Start(ctx, stack.Options{Blob: true, Logger: log})
	if err != nil {
		if stacktest.Missing(err) && os.Getenv("CI") == "" {
			return nil, fmt.Errorf("%w: local stack unavailable (run scripts/install-test-deps.sh): %v", errMissing, err)
		}
		return nil, err
	}
	return st, nil
}
