// Package stacktest is the one way a test package starts the local stack: a
// Harness runs the package's tests with one shared stack from TestMain, and tests
// that need it call Require, which skips them under -short or when a stand-in is
// not installed on a developer's machine (in CI, where the project installs
// everything, a missing stand-in fails instead).
//
//	var local stacktest.Harness
//
//	func TestMain(m *testing.M) { os.Exit(local.Main(m, stack.Options{Blob: true})) }
//
//	func TestSomething(t *testing.T) {
//		st := local.Require(t)
//		env := st.Env("backend")
//		...
//	}
package stacktest

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

// StartTimeout bounds the stack's start, Azurite's Node.js boot included.
const StartTimeout = 2 * time.Minute

// Harness holds the stack a test package shares, or why its tests skip.
type Harness struct {
	st   *stack.Stack
	skip string
}

// Main starts the stack with opts, runs the tests and stops the stack; its result
// is TestMain's exit code. Under -short the stack is not started and Require skips.
func (h *Harness) Main(m *testing.M, opts stack.Options) int {
	if !flag.Parsed() {
		flag.Parse() // testing.Short needs the flags
	}
	if testing.Short() {
		h.skip = "needs the local stack; skipped under -short"
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	st, err := stack.Start(ctx, opts)
	if err != nil {
		if Missing(err) && os.Getenv("CI") == "" {
			h.skip = "local stack unavailable (scripts/install-test-deps.sh installs what it needs): " + err.Error()
			return m.Run()
		}
		fmt.Fprintln(os.Stderr, "start the local stack:", err)
		return 1
	}
	h.st = st
	defer st.Close()
	return m.Run()
}

// Require returns the shared stack, or skips the test with the reason it is absent.
func (h *Harness) Require(t testing.TB) *stack.Stack {
	t.Helper()
	if h.st == nil {
		t.Skip(h.skip)
	}
	return h.st
}

// Stack is the shared stack, nil when the tests skip (for TestMain code that does
// more after Main's start, such as building and running services).
func (h *Harness) Stack() *stack.Stack { return h.st }

// Missing reports whether a start failed because a stand-in is not installed
// (Azurite from npm, or Node.js itself): the one reason to skip rather than fail.
func Missing(err error) bool {
	return errors.Is(err, azurite.ErrNotInstalled) || errors.Is(err, exec.ErrNotFound)
}
