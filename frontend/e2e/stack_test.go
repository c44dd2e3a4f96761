package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"time"

	"github.com/contoso/orderflow/localazure/azurite"
	"github.com/contoso/orderflow/localazure/fault"
	"github.com/contoso/orderflow/localazure/stack"
)

// localStack is the part of the local stack the tests use.
type localStack interface {
	// Env is the environment `localazure up` gives a workload ("frontend", "backend").
	Env(workload string) map[string]string
	// Faults injects failures into the stand-ins (fault_test.go).
	Faults() *fault.Injector
	Close() error
}

// startStack starts the local stand-ins in this process, on ephemeral ports.
// Azurite comes from npm (scripts/install-test-deps.sh); without it the tests
// skip locally, but fail in CI, where its absence is a broken setup.
func startStack(ctx context.Context) (localStack, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(&prefixWriter{prefix: "localazure: ", w: env.logs}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := stack.Start(ctx, stack.Options{Blob: true, Logger: log})
	if err != nil {
		if (errors.Is(err, azurite.ErrNotInstalled) || errors.Is(err, exec.ErrNotFound)) && os.Getenv("CI") == "" {
			return nil, fmt.Errorf("%w: local stack unavailable (run scripts/install-test-deps.sh): %v", errMissing, err)
		}
		return nil, err
	}
	return st, nil
}
