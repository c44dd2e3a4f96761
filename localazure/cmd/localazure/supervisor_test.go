package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/stackconfig"
)

func TestBackoffDoublesToItsCap(t *testing.T) {
	b := backoff{First: time.Second, Max: 30 * time.Second}
	var got []time.Duration
	for n := range 8 {
		got = append(got, b.delay(n))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("delays = %v, want %v seconds", got, want)
		}
	}
}

// syncBuffer is an io.Writer that tests can read while the supervisor writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testSupervisor has a quick backoff so that restarts show within a test's time.
func testSupervisor() (*supervisor, *syncBuffer, *syncBuffer) {
	out, logs := &syncBuffer{}, &syncBuffer{}
	s := newSupervisor(out, slog.New(slog.NewTextHandler(logs, nil)))
	s.backoff = backoff{First: 20 * time.Millisecond, Max: 80 * time.Millisecond, ResetAfter: time.Minute}
	return s, out, logs
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSupervisorRestartsAWorkloadThatExits(t *testing.T) {
	s, out, logs := testSupervisor()
	if err := s.start("backend", []string{"sh", "-c", "echo run; exit 3"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three runs", 10*time.Second, func() bool { return strings.Count(out.String(), "backend | run\n") >= 3 })
	s.stop(time.Second)
	l := logs.String()
	for _, want := range []string{`"exited; restarting it in 20ms (restart 1)`, `restarting it in 40ms (restart 2)`, "restartPolicy Always", `status="exit status 3"`} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %q:\n%s", want, l)
		}
	}
	// Any other exit, such as the frontend's 1 on Entra's AADSTS700213 in Lab 2,
	// keeps the launcher and the rest of the stack up.
	select {
	case err := <-s.fatal:
		t.Errorf("exit 3 stopped the launcher: %v", err)
	default:
	}
	runs := strings.Count(out.String(), "backend | run\n")
	time.Sleep(200 * time.Millisecond)
	if n := strings.Count(out.String(), "backend | run\n"); n != runs {
		t.Errorf("restarted after stop: %d runs, then %d", runs, n)
	}
}

func TestSupervisorDoesNotRestartAConfigurationError(t *testing.T) {
	s, out, _ := testSupervisor()
	if err := s.start("frontend", []string{"sh", "-c", "echo run; exit 78"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.procs[0].done:
	case <-time.After(10 * time.Second):
		t.Fatal("the workload is still supervised after exit 78")
	}
	time.Sleep(200 * time.Millisecond) // several backoff periods
	if n := len(regexp.MustCompile(`(?m)^frontend \| run$`).FindAllString(out.String(), -1)); n != 1 {
		t.Errorf("ran %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out.String(), "localazure: workload frontend exited with status 78 (EX_CONFIG: its configuration is wrong)\n") ||
		!strings.Contains(out.String(), "Not restarted: restarting cannot fix a configuration.") {
		t.Errorf("output does not say why it was not restarted:\n%s", out)
	}
	// Without a listen address it is never ready, so the launcher must stop.
	select {
	case err := <-s.fatal:
		if !errors.Is(err, errConfigBeforeReady) {
			t.Errorf("fatal = %v", err)
		}
	default:
		t.Error("the launcher was not told to stop")
	}
	s.stop(time.Second)
}

func TestSupervisorStopsDuringBackoff(t *testing.T) {
	s, _, _ := testSupervisor()
	s.backoff.First, s.backoff.Max = time.Hour, time.Hour
	if err := s.start("backend", []string{"true"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // exited, now waiting an hour to restart
	stopped := make(chan struct{})
	go func() { s.stop(time.Second); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("stop waited for the backoff")
	}
}

func TestSupervisorRefusesACommandThatCannotStart(t *testing.T) {
	s, _, _ := testSupervisor()
	err := s.start("backend", []string{filepath.Join(t.TempDir(), "missing")}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "--exec backend") {
		t.Fatalf("err = %v", err)
	}
}

// TestChildGetsSIGTERMWhenTheLauncherIsKilled kill -9s a real `localazure up` and
// checks that its workload is told to stop (and can drain) at once, instead of
// running on unseen or dying later of SIGPIPE on its next log line.
func TestChildGetsSIGTERMWhenTheLauncherIsKilled(t *testing.T) {
	if !pdeathsigSupported {
		t.Skip("no parent-death signal on this OS")
	}
	bin, err := buildLauncher()
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := testConfig(t)
	mark := filepath.Join(t.TempDir(), "term")
	child := fmt.Sprintf(`sh -c 'trap "echo got-term > %s; exit 0" TERM; echo up; while :; do sleep 0.05; done'`, mark)
	cmd := exec.Command(bin, "up", "--config", cfg, "--state-dir", t.TempDir(), "--blob=false", "--exec", "backend="+child)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	out := collect(t, stdout)
	out.wait(t, regexp.MustCompile(`^backend \| up$`), 90*time.Second)

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	waitFor(t, "the workload's SIGTERM trap", 10*time.Second, func() bool {
		b, _ := os.ReadFile(mark)
		return string(b) == "got-term\n"
	})
	t.Logf("workload got SIGTERM %s after the launcher's kill -9", time.Since(killed).Round(time.Millisecond))
}

// TestSupervisorStopsTheLauncherOnAConfigurationErrorBeforeReady: a workload that
// exits 78 before it ever listened is not restarted, one block says who, with what
// and its last lines, and the launcher is told to stop.
func TestSupervisorStopsTheLauncherOnAConfigurationErrorBeforeReady(t *testing.T) {
	s, out, _ := testSupervisor()
	listen := []stackconfig.ListenAddr{{Var: "HTTP_ADDR", Addr: fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])}}
	if err := s.start("frontend", []string{"sh", "-c", "echo starting; echo 'configuration: HTTP_ADDR: bad'; exit 78"}, nil, listen); err != nil {
		t.Fatal(err)
	}
	defer s.stop(time.Second)
	select {
	case err := <-s.fatal:
		if !errors.Is(err, errConfigBeforeReady) || !strings.Contains(err.Error(), "workload frontend") {
			t.Errorf("fatal = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the launcher was not told to stop; output:\n%s", out)
	}
	o := out.String()
	for _, want := range []string{
		"\n" + strings.Repeat("=", 78) + "\nlocalazure: workload frontend exited with status 78 (EX_CONFIG: its configuration is wrong)\n",
		"  before it ever listened on HTTP_ADDR " + listen[0].Addr + ".\n",
		"    frontend | starting\n    frontend | configuration: HTTP_ADDR: bad\n",
		"  Not restarted",
		"  The launcher stops now",
	} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
	if n := len(regexp.MustCompile(`(?m)^frontend \| starting$`).FindAllString(o, -1)); n != 1 {
		t.Errorf("ran more than once:\n%s", o)
	}
}

// TestSupervisorConfigErrorAfterReadyKeepsTheLauncher: a workload that listened
// and then exits 78 is not restarted either, but the rest of the stack stays up.
func TestSupervisorConfigErrorAfterReadyKeepsTheLauncher(t *testing.T) {
	s, out, _ := testSupervisor()
	ready := make(chan string, 1)
	s.onReady = func(w string) { ready <- w }
	addr := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	listen := []stackconfig.ListenAddr{{Var: "HTTP_ADDR", Addr: addr}}
	if err := s.start("frontend", helperArgv("HTTP_ADDR"), map[string]string{"HTTP_ADDR": addr, helperEnv: "listen-then-78"}, listen); err != nil {
		t.Fatal(err)
	}
	defer s.stop(time.Second)
	select {
	case w := <-ready:
		if w != "frontend" {
			t.Errorf("ready %q", w)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("never ready:\n%s", out)
	}
	select {
	case <-s.procs[0].done:
	case <-time.After(20 * time.Second):
		t.Fatalf("still supervised:\n%s", out)
	}
	select {
	case err := <-s.fatal:
		t.Fatalf("the launcher was told to stop for a workload that had been ready: %v", err)
	default:
	}
	if o := out.String(); !strings.Contains(o, "  after it had listened on HTTP_ADDR "+addr+".\n") || !strings.Contains(o, "The rest of the stack keeps running") {
		t.Errorf("block:\n%s", o)
	}
}

// TestSupervisorWritesPIDFiles: <dir>/<workload>.pid names the running process,
// a restart writes the new one, and nothing is left once it stopped.
func TestSupervisorWritesPIDFiles(t *testing.T) {
	s, _, logs := testSupervisor()
	s.pidDir = t.TempDir()
	s.backoff.First = 300 * time.Millisecond
	pidFile := filepath.Join(s.pidDir, "backend.pid")
	if err := s.start("backend", []string{"sh", "-c", "exec sleep 30"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	defer s.stop(time.Second)
	current := func() int {
		w := s.procs[0]
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.current == nil {
			return 0
		}
		return w.current.cmd.Process.Pid
	}
	filePID := func() int {
		b, _ := os.ReadFile(pidFile)
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	first := current()
	if first == 0 || filePID() != first {
		t.Fatalf("pid file %d, process %d", filePID(), first)
	}
	if !strings.Contains(logs.String(), fmt.Sprintf("pid=%d pidfile=%s", first, pidFile)) {
		t.Errorf("start not logged with its pid and pid file:\n%s", logs)
	}
	syscall.Kill(first, syscall.SIGKILL) // as Lab 4 does
	waitFor(t, "the pid file removed after the kill", 5*time.Second, func() bool { _, err := os.Stat(pidFile); return os.IsNotExist(err) })
	waitFor(t, "the restart's pid file", 5*time.Second, func() bool { p := current(); return p != 0 && p != first && filePID() == p })
	if !strings.Contains(logs.String(), "restart=1 pidfile=") {
		t.Errorf("restart not logged with its pid:\n%s", logs)
	}
	s.stop(time.Second)
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left after stop: %v", err)
	}
}
