package interop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/azurite"
	"github.com/contoso/orderflow/localazure/stack"
)

var (
	st *stack.Stack
	// missing says why the JavaScript SDKs cannot run ("" = they can).
	missing string
	node    string
	hasBlob bool
	// pyMissing says why the Python Service Bus client cannot run ("" = it can).
	python, pyMissing string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flagParse()
	if _, err := os.Stat(filepath.Join("node_modules", "@azure", "service-bus", "package.json")); err != nil {
		missing = "localazure/interop/node_modules is absent: run scripts/install-test-deps.sh (npm ci in localazure/interop)"
	} else if node, err = exec.LookPath("node"); err != nil {
		missing = "node is not on PATH (Node.js 20+ is needed for the JavaScript SDK tests)"
	}
	python, pyMissing = pythonMissing()
	for _, why := range []string{missing, pyMissing} {
		if why != "" && !testing.Short() {
			fmt.Fprintln(os.Stderr, "interop: "+why+"; -short skips these tests")
			return 1
		}
	}
	if missing != "" && pyMissing != "" {
		return m.Run() // every test skips with the reason
	}
	hasBlob = true
	if dir, err := azurite.FindDir(""); err != nil || !azurite.Installed(dir) {
		if !testing.Short() {
			fmt.Fprintln(os.Stderr, "interop: Azurite is not installed: run scripts/install-test-deps.sh (-short skips the Blob test)")
			return 1
		}
		hasBlob = false
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "interop-config-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	cfgPath, err := interopConfig(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	st, err = stack.Start(ctx, stack.Options{ConfigPath: cfgPath, Blob: hasBlob, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop: start the local stack:", err)
		return 1
	}
	defer st.Close()
	return m.Run()
}

// flagParse parses the test flags early: testing.Short is needed before m.Run.
func flagParse() {
	if !flag.Parsed() {
		flag.Parse()
	}
}

// runNode runs script with the workload's pod environment, NODE_EXTRA_CA_CERTS set to
// the stack's CA, extra variables and args, and decodes the JSON report of its last
// stdout line into out.
func runNode(t *testing.T, script, workload string, extra map[string]string, out any, args ...string) {
	t.Helper()
	requireNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	env := os.Environ()
	for k, v := range st.Env(workload) {
		env = append(env, k+"="+v)
	}
	env = append(env, "NODE_EXTRA_CA_CERTS="+st.CAFile())
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	err := cmd.Run()
	t.Logf("node %s %s: %v", script, strings.Join(args, " "), time.Since(began).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", script, err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := lines[len(lines)-1]
	if err := json.Unmarshal([]byte(last), out); err != nil {
		t.Fatalf("node %s: report %q: %v\nstderr:\n%s", script, last, err, stderr.String())
	}
	if testing.Verbose() {
		t.Logf("report: %s", last)
	}
}

// requireNode skips the test (in -short runs; full runs fail in TestMain) when the
// JavaScript SDKs are not installed. Tests call it before touching st.
func requireNode(t *testing.T) {
	t.Helper()
	if missing != "" {
		t.Skip(missing)
	}
}

// backendIdentity gives a script running as the frontend the backend's credential too.
func backendIdentity() map[string]string {
	b := st.Env("backend")
	return map[string]string{
		"BACKEND_AZURE_CLIENT_ID":            b["AZURE_CLIENT_ID"],
		"BACKEND_AZURE_FEDERATED_TOKEN_FILE": b["AZURE_FEDERATED_TOKEN_FILE"],
	}
}
