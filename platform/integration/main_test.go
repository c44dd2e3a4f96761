package integration

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/azurite"
	"github.com/contoso/orderflow/localazure/stack"
	"github.com/contoso/orderflow/platform/azure"
	"github.com/contoso/orderflow/platform/config"
)

// st is the stack every test in this package shares; skipReason is set instead when
// a stand-in is not installed on this machine.
var (
	st         *stack.Stack
	skipReason string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse() // testing.Short needs the flags parsed
	if testing.Short() {
		skipReason = "integration tests need the local stack; skipped under -short"
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{Blob: true})
	if err != nil {
		if missingStandIn(err) {
			skipReason = "local stack unavailable: " + err.Error()
			return m.Run()
		}
		fmt.Fprintln(os.Stderr, "start local stack:", err)
		return 1
	}
	st = s
	defer s.Close()
	return m.Run()
}

// missingStandIn reports whether err says a stand-in is not installed (Azurite from
// npm, or Node.js itself), the one reason to skip rather than fail.
func missingStandIn(err error) bool {
	return errors.Is(err, azurite.ErrNotInstalled) || errors.Is(err, exec.ErrNotFound)
}

// requireStack skips the test when the stack could not start for a known reason.
func requireStack(t *testing.T) {
	t.Helper()
	if st == nil {
		t.Skip(skipReason)
	}
}

// clientsFor builds the real SDK clients of a workload ("frontend" or "backend")
// through platform/config and platform/azure, exactly as the services do.
func clientsFor(t *testing.T, workload string) (*azure.Clients, config.Config) {
	t.Helper()
	requireStack(t)
	return clientsAndConfig(t, st.Env(workload))
}

// clientsFromEnv builds the clients of a workload from its env map.
func clientsFromEnv(t *testing.T, env map[string]string) *azure.Clients {
	t.Helper()
	c, _ := clientsAndConfig(t, env)
	return c
}

func clientsAndConfig(t *testing.T, env map[string]string) (*azure.Clients, config.Config) {
	t.Helper()
	workload := env["AZURE_CLIENT_ID"]
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config from the %s env: %v", workload, err)
	}
	c, err := azure.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("azure clients for %s: %v", workload, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.CheckIdentity(ctx); err != nil {
		t.Fatalf("%s identity: %v", workload, err)
	}
	return c, cfg
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
