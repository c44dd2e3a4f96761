package doctor_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/azurite"
	"github.com/contoso/orderflow/localazure/stack"
)

// st is the local stack every test shares (real Entra, Key Vault, Cosmos DB, Service
// Bus and Blob stand-ins, driven by the real SDKs); skipReason is set instead when a
// stand-in is not installed on this machine.
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
		skipReason = "doctor tests need the local stack; skipped under -short"
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{Blob: true})
	if err != nil {
		if errors.Is(err, azurite.ErrNotInstalled) || errors.Is(err, exec.ErrNotFound) {
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

// workloadEnv returns a copy of the stack's environment of workload, to change.
func workloadEnv(t *testing.T, workload string) map[string]string {
	t.Helper()
	if st == nil {
		t.Skip(skipReason)
	}
	env := st.Env(workload)
	if env == nil {
		t.Fatalf("the stack has no workload %q", workload)
	}
	return env
}
