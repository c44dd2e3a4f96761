package e2e

import (
	"context"
	"fmt"
)

// localStack is the part of the local stack the tests use.
type localStack interface {
	// Env is the environment `localazure up` gives a workload ("frontend", "backend").
	Env(workload string) map[string]string
	Close() error
}

// startStack starts the local stand-ins in this process.
func startStack(ctx context.Context) (localStack, error) {
	return nil, fmt.Errorf("%w: github.com/contoso/orderflow/localazure/stack (stack.Start) has not landed yet", errMissing)
}
