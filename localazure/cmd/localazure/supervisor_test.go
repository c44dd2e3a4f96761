package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
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
	if err := s.start("backend", []string{"sh", "-c", "echo run; exit 3"}, nil); err != nil {
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
	runs := strings.Count(out.String(), "backend | run\n")
	time.Sleep(200 * time.Millisecond)
	if n := strings.Count(out.String(), "backend | run\n"); n != runs {
		t.Errorf("restarted after stop: %d runs, then %d", runs, n)
	}
}

func TestSupervisorDoesNotRestartAConfigurationError(t *testing.T) {
	s, out, logs := testSupervisor()
	if err := s.start("frontend", []string{"sh", "-c", "echo run; exit 78"}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.procs[0].done:
	case <-time.After(10 * time.Second):
		t.Fatal("the workload is still supervised after exit 78")
	}
	time.Sleep(200 * time.Millisecond) // several backoff periods
	if n := strings.Count(out.String(), "frontend | run\n"); n != 1 {
		t.Errorf("ran %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(logs.String(), "configuration error (status 78); not restarting it") {
		t.Errorf("log does not say why it was not restarted:\n%s", logs)
	}
	s.stop(time.Second)
}

func TestSupervisorStopsDuringBackoff(t *testing.T) {
	s, _, _ := testSupervisor()
	s.backoff.First, s.backoff.Max = time.Hour, time.Hour
	if err := s.start("backend", []string{"true"}, nil); err != nil {
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
	err := s.start("backend", []string{filepath.Join(t.TempDir(), "missing")}, nil)
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
