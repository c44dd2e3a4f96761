package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/azurite"
	"github.com/contoso/orderflow/localazure/stackconfig"
)

// buildLauncher compiles this command once per test binary.
var buildLauncher = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "localazure-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "localazure")
	out, err := exec.Command("go", "build", "-race", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// freePorts returns n ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// testConfig is the repository's localazure.json on free ports, so that the test
// does not collide with a developer's running stack or with parallel tests.
func testConfig(t *testing.T) (path string, ports []int) {
	t.Helper()
	path, ports, _ = offsetConfig(t, 0)
	return path, ports
}

// offsetConfig is the repository's localazure.json with every port (the stand-ins'
// and the workloads' listen ports) set so that moved by offset it lands on a port
// that was free a moment ago. It returns those moved ports: the stand-ins' in the
// order identity, keyVault, cosmos, blob, serviceBusAmqp, serviceBusAmqps,
// traceView, and the listen ports by variable.
func offsetConfig(t *testing.T, offset int) (path string, ports []int, listen map[string]int) {
	t.Helper()
	repo, err := stackconfig.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(repo)
	var m map[string]any
	json.Unmarshal(data, &m)
	la := m["LocalAzure"].(map[string]any)
	var free []int
	for _, p := range freePorts(t, 7+2*len(la["workloads"].([]any))+8) {
		if p > offset {
			free = append(free, p)
		}
	}
	next := func() int {
		if len(free) == 0 {
			t.Fatal("not enough free ports above the offset")
		}
		p := free[0]
		free = free[1:]
		return p
	}
	ports = []int{next(), next(), next(), next(), next(), next(), next()}
	la["ports"] = map[string]any{
		"identity": ports[0] - offset, "keyVault": ports[1] - offset, "cosmos": ports[2] - offset, "blob": ports[3] - offset,
		"serviceBusAmqp": ports[4] - offset, "serviceBusAmqps": ports[5] - offset, "traceView": ports[6] - offset,
	}
	listen = map[string]int{}
	for _, w := range la["workloads"].([]any) {
		decl, _ := w.(map[string]any)["listen"].(map[string]any)
		for v := range decl {
			listen[v] = next()
			decl[v] = listen[v] - offset
		}
	}
	out, _ := json.MarshalIndent(m, "", "  ")
	path = filepath.Join(t.TempDir(), "localazure.json")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, ports, listen
}

func blobFlag(t *testing.T) string {
	dir, err := azurite.FindDir("")
	if err == nil && azurite.Installed(dir) {
		return "--blob=true"
	}
	if testing.Short() {
		return "--blob=false"
	}
	t.Fatal("Azurite is not installed: run scripts/install-test-deps.sh (full test runs need it)")
	return ""
}

// lines collects a process's output and lets a test wait for a line.
type lines struct {
	mu   sync.Mutex
	all  []string
	more chan struct{}
}

func collect(t *testing.T, r interface{ Read([]byte) (int, error) }) *lines {
	l := &lines{more: make(chan struct{}, 1)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.mu.Lock()
			l.all = append(l.all, sc.Text())
			l.mu.Unlock()
			select {
			case l.more <- struct{}{}:
			default:
			}
		}
	}()
	return l
}

func (l *lines) wait(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		for _, s := range l.all {
			if m := re.FindStringSubmatch(s); m != nil {
				l.mu.Unlock()
				return m
			}
		}
		l.mu.Unlock()
		select {
		case <-l.more:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no line matching %s within %s; output:\n%s", re, timeout, l.String())
		}
	}
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}

func TestUpRunsCommandsAndStopsOnSIGINT(t *testing.T) {
	bin, err := buildLauncher()
	if err != nil {
		t.Fatal(err)
	}
	cfg, ports := testConfig(t)
	state := t.TempDir()
	child := `sh -c 'echo client=$AZURE_CLIENT_ID vault=$KEYVAULT_URL; trap "echo got-term; exit 0" TERM; while :; do sleep 0.05; done'`
	cmd := exec.Command(bin, "up", "--config", cfg, "--state-dir", state, blobFlag(t), "--exec", "backend="+child)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	out, errOut := collect(t, stdout), collect(t, stderr)

	m := out.wait(t, regexp.MustCompile(`^localazure ready in (\S+)$`), 90*time.Second)
	took, _ := time.ParseDuration(m[1])
	t.Logf("launcher ready in %s (a race-enabled build on a shared machine)", took)
	for _, svc := range []string{"identity", "keyvault", "cosmos", "servicebus-amqps", "servicebus-amqp"} {
		out.wait(t, regexp.MustCompile(`^  `+svc+` +\S+ +ok$`), time.Second)
	}
	out.wait(t, regexp.MustCompile(fmt.Sprintf(`^  keyvault +https://127\.0\.0\.1:%d/ +ok$`, ports[1])), time.Second)

	// The command runs with the backend's environment, its output prefixed.
	be := out.wait(t, regexp.MustCompile(`^backend \| client=(\S+) vault=(\S+)$`), 30*time.Second)
	if be[1] != "2a42ce7b-4bad-44d2-9a3d-0cdec0ae448a" || be[2] != fmt.Sprintf("https://127.0.0.1:%d/", ports[1]) {
		t.Errorf("child saw AZURE_CLIENT_ID=%s KEYVAULT_URL=%s", be[1], be[2])
	}

	// `env` prints the file `up` wrote.
	envOut, err := exec.Command(bin, "env", "frontend", "--config", cfg, "--state-dir", state).CombinedOutput()
	if err != nil || !strings.Contains(string(envOut), "AZURE_CLIENT_ID=dc5ebcb9-d3c3-4789-b454-f649577be03f\n") {
		t.Errorf("env frontend: %v\n%s", err, envOut)
	}

	// Ctrl-C: the child gets SIGTERM, then everything stops and the ports are free.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("launcher exited with %v; stderr:\n%s", err, errOut)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("launcher still running 30s after SIGINT; output:\n%s\n%s", out, errOut)
	}
	out.wait(t, regexp.MustCompile(`^backend \| got-term$`), time.Second)
	for _, p := range ports {
		if strings.Contains(blobFlag(t), "false") && p == ports[3] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Errorf("port %d still taken after the launcher exited: %v", p, err)
			continue
		}
		ln.Close()
	}
}

func TestUpRefusesUnknownWorkload(t *testing.T) {
	bin, err := buildLauncher()
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := testConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "up", "--config", cfg, "--state-dir", t.TempDir(), "--blob=false", "--exec", "worker=true").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), `no workload "worker"`) || !strings.Contains(string(out), "use one of: frontend, backend") {
		t.Fatalf("err = %v, output:\n%s", err, out)
	}
}

func TestEnvBeforeUp(t *testing.T) {
	bin, err := buildLauncher()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	out, err := exec.Command(bin, "env", "backend", "--state-dir", state).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "start the stack with `localazure up` (or `make run`) first") {
		t.Fatalf("err = %v, output:\n%s", err, out)
	}
}

func TestVersion(t *testing.T) {
	bin, err := buildLauncher()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !regexp.MustCompile(`^localazure \S+.* \(Azurite 3\.37\.0, go1\.\S+ \w+/\w+\)\n$`).Match(out) {
		t.Fatalf("version: %v %q", err, out)
	}
}

// TestFaultCommandReachesTheRunningStack: `localazure fault add` makes the running
// stack's Cosmos DB answer 503 within a second or so, and `clear` ends it.
func TestFaultCommandReachesTheRunningStack(t *testing.T) {
	bin, err := buildLauncher()
	if err != nil {
		t.Fatal(err)
	}
	cfg, ports := testConfig(t)
	state := t.TempDir()
	cmd := exec.Command(bin, "up", "--config", cfg, "--state-dir", state, "--blob=false")
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGINT); cmd.Wait() })
	out, logs := collect(t, stdout), collect(t, stderr)
	out.wait(t, regexp.MustCompile(`^localazure ready in`), 90*time.Second)

	pem, err := os.ReadFile(filepath.Join(state, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	status := func() int {
		resp, err := hc.Get(fmt.Sprintf("https://127.0.0.1:%d/dbs", ports[2]))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitStatus := func(want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for status() != want {
			if time.Now().After(deadline) {
				t.Fatalf("cosmos never answered %d; launcher log:\n%s", want, logs)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	before := status()
	if before == http.StatusServiceUnavailable {
		t.Fatalf("503 before any fault")
	}
	run := func(args ...string) string {
		b, err := exec.Command(bin, append(args, "--config", cfg, "--state-dir", state)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, b)
		}
		return string(b)
	}
	run("fault", "add", "cosmos", "unavailable", "--path", "/dbs")
	waitStatus(http.StatusServiceUnavailable)
	if l := run("fault", "list"); !strings.Contains(l, "runtime  cosmos path~\"/dbs\" unavailable") {
		t.Errorf("fault list:\n%s", l)
	}
	logs.wait(t, regexp.MustCompile(`fault set.*source=runtime`), time.Second)
	run("fault", "clear")
	waitStatus(before)
}

// TestAccessLogFile: `up` writes every RBAC decision to access.log in the state
// directory, one JSON object per line.
func TestAccessLogFile(t *testing.T) {
	bin, err := buildLauncher()
	if err != nil {
		t.Fatal(err)
	}
	cfg, ports := testConfig(t)
	state := t.TempDir()
	cmd := exec.Command(bin, "up", "--config", cfg, "--state-dir", state, "--blob=false")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGINT); cmd.Wait() })
	out := collect(t, stdout)
	out.wait(t, regexp.MustCompile(`^access log \(every RBAC decision, JSON lines\): `+regexp.QuoteMeta(filepath.Join(state, "access.log"))+`$`), 90*time.Second)

	// A forged token refused by Cosmos DB is an unauthenticated access.
	pem, _ := os.ReadFile(filepath.Join(state, "ca.pem"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest("GET", fmt.Sprintf("https://127.0.0.1:%d/dbs", ports[2]), nil)
	req.Header.Set("Authorization", "type=aad&ver=1.0&sig=forged")
	req.Header.Set("x-ms-date", time.Now().UTC().Format(http.TimeFormat))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(state, "access.log"))
		var a map[string]any
		if line, _, _ := strings.Cut(string(b), "\n"); line != "" && json.Unmarshal([]byte(line), &a) == nil {
			if a["service"] != "cosmos" || a["decision"] != "unauthenticated" || a["status"] != float64(resp.StatusCode) {
				t.Fatalf("first line: %s (answer was %d)", line, resp.StatusCode)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("access.log after a refused request: %q", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
