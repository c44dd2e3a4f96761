// Package azuretest builds, for a test, the Azure clients a workload gets from its
// environment, exactly as the services do (platform/config, then platform/azure),
// so that tests against the local stack hold the workload's own identity and roles.
package azuretest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/azure"
	"github.com/contoso/orderflow/platform/config"
)

// ClientsFor loads the configuration from env (a workload's environment, e.g.
// stack.Env("backend")), builds its clients, checks that its identity works, and
// closes the clients when the test ends.
func ClientsFor(t testing.TB, env map[string]string) (*azure.Clients, config.Config) {
	t.Helper()
	workload := env["AZURE_CLIENT_ID"]
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("configuration from the environment of client %s: %v", workload, err)
	}
	c, err := azure.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("azure clients for client %s: %v", workload, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.CheckIdentity(ctx); err != nil {
		t.Fatalf("identity of client %s: %v", workload, err)
	}
	return c, cfg
}
