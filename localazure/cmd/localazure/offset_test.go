package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/stack"
)

// TestUpWithPortOffset runs the launcher as `LOCALAZURE_PORT_OFFSET=100 make run`
// does: every stand-in's endpoint, both workloads' listen addresses and the env
// files move by the offset; the page's URL is printed only once the frontend
// listens; each workload's pid file names it while it runs and is gone after.
func TestUpWithPortOffset(t *testing.T) {
	bin, err := buildLauncher()
	if err != nil {
		t.Fatal(err)
	}
	const offset = 100
	cfg, ports, listen := offsetConfig(t, offset)
	state := t.TempDir()
	cmd := exec.Command(bin, "up", "--config", cfg, "--state-dir", state, "--blob=false",
		"--exec", "frontend="+helperCommand("HTTP_ADDR"), "--exec", "backend="+helperCommand("HEALTH_ADDR"))
	cmd.Env = cleanEnv(portOffsetEnv+"="+strconv.Itoa(offset), helperEnv+"=listen")
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	out, logs := collect(t, stdout), collect(t, stderr)

	out.wait(t, regexp.MustCompile(`^localazure ready in`), 90*time.Second)
	out.wait(t, regexp.MustCompile(`^every port moved by \+100 `), time.Second)
	for name, p := range map[string]int{"identity": ports[0], "keyvault": ports[1], "cosmos": ports[2], "servicebus-amqp": ports[4], "servicebus-amqps": ports[5]} {
		out.wait(t, regexp.MustCompile(fmt.Sprintf(`^  %s +\S+://127\.0\.0\.1:%d/? +ok$`, name, p)), time.Second)
	}
	out.wait(t, regexp.MustCompile(fmt.Sprintf(`^traces and access log .*: http://127\.0\.0\.1:%d/$`, ports[6])), time.Second)

	httpAddr := fmt.Sprintf("127.0.0.1:%d", listen["HTTP_ADDR"])
	healthAddr := fmt.Sprintf("127.0.0.1:%d", listen["HEALTH_ADDR"])
	ready := out.wait(t, regexp.MustCompile(`^ready — open (\S+)  \(backend and frontend listening`), 60*time.Second)
	if ready[1] != "http://"+httpAddr+"/" {
		t.Errorf("announced %s, want http://%s/", ready[1], httpAddr)
	}
	// Not before: both workloads said they listen before the line came.
	all := strings.Split(out.String(), "\n")
	readyAt, listened := -1, 0
	for i, l := range all {
		switch {
		case strings.HasPrefix(l, "ready — open"):
			readyAt = i
		case l == "frontend | helper HTTP_ADDR: listening on "+httpAddr, l == "backend | helper HEALTH_ADDR: listening on "+healthAddr:
			if readyAt < 0 {
				listened++
			}
		}
	}
	if listened != 2 {
		t.Errorf("the ready line came before both workloads listened on %s and %s:\n%s", httpAddr, healthAddr, out)
	}

	// The env files carry the moved endpoints and listen addresses.
	for workload, want := range map[string]map[string]string{
		"frontend": {"HTTP_ADDR": httpAddr, "KEYVAULT_URL": fmt.Sprintf("https://127.0.0.1:%d/", ports[1]), "COSMOS_ENDPOINT": fmt.Sprintf("https://127.0.0.1:%d/", ports[2]),
			"SERVICEBUS_NAMESPACE": fmt.Sprintf("127.0.0.1:%d", ports[5]), "AZURE_AUTHORITY_HOST": fmt.Sprintf("https://127.0.0.1:%d/", ports[0]),
			"TRACE_VIEW_URL": fmt.Sprintf("http://127.0.0.1:%d/", ports[6])},
		"backend": {"HEALTH_ADDR": healthAddr, "OTEL_EXPORTER_OTLP_ENDPOINT": fmt.Sprintf("http://127.0.0.1:%d", ports[6])},
	} {
		b, err := os.ReadFile(filepath.Join(state, workload+".env"))
		if err != nil {
			t.Fatal(err)
		}
		env, err := stack.ParseEnv(string(b))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s.env: %s=%q, want %q", workload, k, env[k], v)
			}
		}
	}

	// Each pid file names the process that printed its pid.
	for workload, v := range map[string]string{"frontend": "HTTP_ADDR", "backend": "HEALTH_ADDR"} {
		m := out.wait(t, regexp.MustCompile(`^`+workload+` \| helper `+v+`: pid (\d+)$`), time.Second)
		b, err := os.ReadFile(filepath.Join(state, workload+".pid"))
		if err != nil || strings.TrimSpace(string(b)) != m[1] {
			t.Errorf("%s.pid = %q (%v), want %s", workload, b, err, m[1])
		}
		logs.wait(t, regexp.MustCompile(`msg=started workload=`+workload+` pid=`+m[1]+` pidfile=`), time.Second)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("launcher exited with %v; stderr:\n%s", err, logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("launcher still running 30s after SIGINT")
	}
	for _, workload := range []string{"frontend", "backend"} {
		if _, err := os.Stat(filepath.Join(state, workload+".pid")); !os.IsNotExist(err) {
			t.Errorf("%s.pid left after the launcher stopped: %v", workload, err)
		}
	}
}

// TestUpStopsOnAConfigurationErrorAtStartUp: a workload that exits 78 before it
// ever listened stops the launcher with a non-zero status, the other workload
// with it, after one block that names it.
func TestUpStopsOnAConfigurationErrorAtStartUp(t *testing.T) {
	bin, err := buildLauncher()
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, _ := offsetConfig(t, 0)
	cmd := exec.Command(bin, "up", "--config", cfg, "--state-dir", t.TempDir(), "--blob=false",
		"--exec", "frontend=sh -c 'sleep 0.5; echo \"configuration: COSMOS_ENDPOINT is not a URL\"; exit 78'",
		"--exec", "backend="+helperCommand("HEALTH_ADDR"))
	cmd.Env = cleanEnv(helperEnv + "=listen")
	ctx := make(chan struct{})
	var b lockedOutput
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(ctx) }()
	select {
	case <-ctx:
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the launcher kept running after exit 78:\n%s", b.String())
	}
	o := b.String()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit status %d, want 1:\n%s", code, o)
	}
	for _, want := range []string{
		"localazure: workload frontend exited with status 78 (EX_CONFIG: its configuration is wrong)\n  before it ever listened on HTTP_ADDR 127.0.0.1:",
		"    frontend | configuration: COSMOS_ENDPOINT is not a URL\n",
		"The launcher stops now",
		"backend | helper HEALTH_ADDR: got-term",
		"localazure: workload frontend exited with status 78 (configuration error) before it was ready (see the block above)\n",
	} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
	if strings.Contains(o, "ready — ") {
		t.Errorf("announced ready:\n%s", o)
	}
}

// TestUpRefusesATakenListenPort: a service left running (here: this test holding
// the frontend's port) stops `up` before anything starts, naming the process and
// the fix.
func TestUpRefusesATakenListenPort(t *testing.T) {
	bin, err := buildLauncher()
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, listen := offsetConfig(t, 0)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", listen["HTTP_ADDR"]))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command(bin, "up", "--config", cfg, "--state-dir", t.TempDir(), "--blob=false", "--exec", "frontend=true", "--exec", "backend=true")
	cmd.Env = cleanEnv()
	outB, err := cmd.CombinedOutput()
	o := string(outB)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("err = %v:\n%s", err, o)
	}
	want := fmt.Sprintf("port %d (HTTP_ADDR of workload frontend) is taken", listen["HTTP_ADDR"])
	if runtime.GOOS == "linux" {
		want = fmt.Sprintf("%s by pid %d: %s", want, os.Getpid(), os.Args[0])
	}
	if !strings.Contains(o, want) || !strings.Contains(o, "--port-offset 100") {
		t.Errorf("output lacks %q and the offset fix:\n%s", want, o)
	}
	if runtime.GOOS == "linux" && !strings.Contains(o, fmt.Sprintf("fix: kill %d ", os.Getpid())) {
		t.Errorf("output lacks the kill fix:\n%s", o)
	}
	if strings.Contains(o, "localazure ready") || strings.Contains(o, "msg=started") {
		t.Errorf("started something:\n%s", o)
	}
}

// TestUpRefusesABadPortOffset: an offset that pushes a port out of range is a
// usage error naming the port.
func TestUpRefusesABadPortOffset(t *testing.T) {
	bin, err := buildLauncher()
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, _ := offsetConfig(t, 0)
	cmd := exec.Command(bin, "up", "--config", cfg, "--state-dir", t.TempDir(), "--blob=false", "--port-offset", "70000")
	cmd.Env = cleanEnv()
	outB, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(outB), "--port-offset 70000: LocalAzure.ports.identity:") {
		t.Fatalf("err = %v:\n%s", err, outB)
	}
	cmd = exec.Command(bin, "up", "--config", cfg, "--state-dir", t.TempDir(), "--blob=false")
	cmd.Env = cleanEnv(portOffsetEnv + "=ten")
	outB, err = cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(outB), `LOCALAZURE_PORT_OFFSET="ten": write a whole number`) {
		t.Fatalf("err = %v:\n%s", err, outB)
	}
}
