// Package e2e runs the whole application on the local stack: the local stand-ins
// for Entra ID, Key Vault, Cosmos DB, Blob Storage (Azurite) and Service Bus
// start in this test process; the frontend and backend are built and run as
// separate processes with the environment `localazure up` would give them, and
// authenticate with workload identity exactly as on AKS. The tests then drive
// the frontend over HTTP, and the page in headless Chromium.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// env is what TestMain set up, shared by the tests.
var env struct {
	// skip is why the tests cannot run ("" when they can).
	skip string
	// frontendURL is the base URL of the frontend process.
	frontendURL string
	// frontendStackEnv is the stack's environment for the frontend, for tests
	// starting another one.
	frontendStackEnv map[string]string
	// bin holds the built binaries.
	bin string
	// logs collects both services' output, printed when a test fails.
	logs *lockedBuffer
	// stack is the local stack the services run on.
	stack localStack
	// otlp receives both services' spans (TestTraceFollowsOrderAcrossServices).
	otlp *otlpReceiver
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if testing.Short() {
		env.skip = "end-to-end test skipped under -short"
		return m.Run()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env.logs = &lockedBuffer{}

	st, err := startStack(ctx)
	if err != nil {
		env.skip = err.Error()
		if errors.Is(err, errMissing) {
			return m.Run()
		}
		fmt.Fprintln(os.Stderr, "e2e: local stack:", err)
		return 1
	}
	defer st.Close()
	env.stack = st

	env.bin, err = os.MkdirTemp("", "orderflow-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(env.bin)
	if err := buildServices(ctx, env.bin); err != nil {
		env.skip = err.Error()
		if errors.Is(err, errMissing) {
			return m.Run()
		}
		fmt.Fprintln(os.Stderr, "e2e: build:", err)
		return 1
	}

	env.otlp, err = startOTLPReceiver()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer env.otlp.Close()
	// Both services export their spans to the in-memory receiver, in batches small
	// in time so a test sees them soon after the work.
	tracing := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": env.otlp.url,
		"OTEL_BSP_SCHEDULE_DELAY":     "200",
	}

	healthAddr, err := freeAddr()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	// The backend's default health port (:8090) may be taken by another test
	// run on this machine; an ephemeral one keeps runs independent.
	backendExtra := map[string]string{"HEALTH_ADDR": healthAddr}
	maps.Copy(backendExtra, tracing)
	backend, err := startService(ctx, "backend", filepath.Join(env.bin, "backend"), st.Env("backend"), backendExtra)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer backend.stop()

	addr, err := freeAddr()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	extra := map[string]string{
		"HTTP_ADDR": addr,
		// localazure.json names the backend's listen address; on ephemeral ports the
		// test picked it, so it tells the frontend.
		"BACKEND_HEALTH_URL": "http://" + healthAddr,
		// A short reconciler cycle, so an order whose send failed would still
		// complete within the test.
		"RECONCILE_INTERVAL": "2s",
		"RECONCILE_MIN_AGE":  "3s",
		"SHUTDOWN_TIMEOUT":   "10s",
		// Debug logs show each OrderCompleted the event feed fans out, which is
		// how TestOrdersCompleteWithVerifiedReceipts sees the topic path work.
		"LOG_LEVEL": "debug",
	}
	maps.Copy(extra, tracing)
	env.frontendStackEnv = st.Env("frontend")
	frontend, err := startService(ctx, "frontend", filepath.Join(env.bin, "frontend"), env.frontendStackEnv, extra)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer frontend.stop()
	env.frontendURL = "http://" + addr

	for svc, url := range map[*service]string{backend: "http://" + healthAddr, frontend: env.frontendURL} {
		if err := svc.waitReady(ctx, url, 90*time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %s never became ready: %v\n--- service output ---\n%s\n", svc.name, err, env.logs.String())
			return 1
		}
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- service output ---\n%s\n", env.logs.String())
	}
	return code
}

// requireStack skips the test when TestMain could not set the application up.
func requireStack(t *testing.T) {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
}

// errMissing marks a piece of the application that has not been written yet,
// as opposed to one that fails.
var errMissing = errors.New("missing")

// repoRoot is the repository root (this file is frontend/e2e/main_test.go).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// buildServices builds both commands into dir with the toolchain running the test
// (the go command puts its own GOROOT/bin first on the PATH of what it runs).
func buildServices(ctx context.Context, dir string) error {
	root := repoRoot()
	for _, svc := range []string{"frontend", "backend"} {
		if _, err := os.Stat(filepath.Join(root, svc, "main.go")); err != nil {
			return fmt.Errorf("%w: %s/main.go (the %s command) does not exist yet", errMissing, svc, svc)
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, svc), ".")
		cmd.Dir = filepath.Join(root, svc)
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", svc, err, out)
		}
	}
	return nil
}

// service is a running frontend or backend process.
type service struct {
	name string
	cmd  *exec.Cmd
	env  []string
	done chan error
}

// startService runs bin with the stack's environment for the workload plus extra.
func startService(ctx context.Context, name, bin string, stackEnv, extra map[string]string) (*service, error) {
	cmd := exec.CommandContext(ctx, bin)
	e := os.Environ()
	for k, v := range stackEnv {
		e = append(e, k+"="+v)
	}
	for k, v := range extra {
		e = append(e, k+"="+v)
	}
	cmd.Env = e
	out := &prefixWriter{prefix: name + ": ", w: env.logs}
	cmd.Stdout, cmd.Stderr = out, out
	// Stop with SIGTERM, as Kubernetes does, and give the drain time.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &service{name: name, cmd: cmd, env: e, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	return s, nil
}

// stop sends SIGTERM and waits for the process to exit.
func (s *service) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		return err
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		return fmt.Errorf("%s did not stop within 20s of SIGTERM", s.name)
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady polls the service's /readyz until it answers 200, giving up early
// when the process exits.
func (s *service) waitReady(ctx context.Context, base string, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err // keep it for stop
			return fmt.Errorf("the process exited: %v", err)
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("status %d: %s", resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		time.Sleep(500 * time.Millisecond)
	}
	return errors.New(last)
}

// lockedBuffer collects output from several processes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// prefixWriter prefixes each line with the service name.
type prefixWriter struct {
	prefix string
	w      io.Writer
	mu     sync.Mutex
	rest   []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rest = append(p.rest, b...)
	sc := bufio.NewScanner(bytes.NewReader(p.rest))
	consumed := 0
	for sc.Scan() {
		line := sc.Text()
		if consumed+len(line) >= len(p.rest) { // no newline yet: keep it
			break
		}
		consumed += len(line) + 1
		fmt.Fprintln(p.w, p.prefix+strings.TrimRight(line, "\r"))
	}
	p.rest = p.rest[consumed:]
	return len(b), nil
}
