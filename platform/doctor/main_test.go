package doctor_test

import (
	"os"
	"testing"

	"github.com/contoso/orderflow/localazure/stack"
	"github.com/contoso/orderflow/localazure/stack/stacktest"
)

// local is the local stack every test shares (real Entra, Key Vault, Cosmos DB,
// Service Bus and Blob stand-ins, driven by the real SDKs).
var local stacktest.Harness

func TestMain(m *testing.M) { os.Exit(local.Main(m, stack.Options{Blob: true})) }

// workloadEnv returns a copy of the stack's environment of workload, to change.
func workloadEnv(t *testing.T, workload string) map[string]string {
	t.Helper()
	env := local.Require(t).Env(workload)
	if env == nil {
		t.Fatalf("the stack has no workload %q", workload)
	}
	return env
}
