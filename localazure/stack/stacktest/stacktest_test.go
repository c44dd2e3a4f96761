package stacktest_test

import (
	"os"
	"testing"

	"github.com/contoso/orderflow/localazure/stack"
	"github.com/contoso/orderflow/localazure/stack/stacktest"
)

var local stacktest.Harness

func TestMain(m *testing.M) { os.Exit(local.Main(m, stack.Options{})) }

// TestRequireGivesTheSharedStack: the stack Main started is the one every test
// gets, and it answers.
func TestRequireGivesTheSharedStack(t *testing.T) {
	st := local.Require(t)
	if st != local.Stack() {
		t.Fatal("Require and Stack disagree")
	}
	for _, s := range st.Status(t.Context()) {
		if s.Err != nil {
			t.Errorf("%s: %v", s.Name, s.Err)
		}
	}
	if st.Env("backend")["AZURE_CLIENT_ID"] == "" {
		t.Error("no backend environment")
	}
}
