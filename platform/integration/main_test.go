package integration

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/stack"
	"github.com/contoso/orderflow/localazure/stack/stacktest"
	"github.com/contoso/orderflow/platform/azure"
	"github.com/contoso/orderflow/platform/azure/azuretest"
	"github.com/contoso/orderflow/platform/config"
)

// local is the stack every test in this package shares.
var local stacktest.Harness

func TestMain(m *testing.M) { os.Exit(local.Main(m, stack.Options{Blob: true})) }

// clientsFor builds the real SDK clients of a workload ("frontend" or "backend")
// through platform/config and platform/azure, exactly as the services do.
func clientsFor(t *testing.T, workload string) (*azure.Clients, config.Config) {
	t.Helper()
	return clientsAndConfig(t, local.Require(t).Env(workload))
}

// clientsFromEnv builds the clients of a workload from its env map.
func clientsFromEnv(t *testing.T, env map[string]string) *azure.Clients {
	t.Helper()
	c, _ := clientsAndConfig(t, env)
	return c
}

func clientsAndConfig(t *testing.T, env map[string]string) (*azure.Clients, config.Config) {
	t.Helper()
	return azuretest.ClientsFor(t, env)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
