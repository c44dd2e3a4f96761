package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/contoso/orderflow/localazure/stackconfig"
)

// exitConfig is the status (EX_CONFIG, sysexits(3)) with which a workload says its
// configuration is wrong; restarting it cannot help, so it is not restarted, and
// if it had never become ready the launcher stops (see keepRunning).
const exitConfig = 78

// tailLines is how many of a workload's last output lines a failure block repeats.
const tailLines = 5

// supervisor runs the --exec commands as the cluster runs a pod's container with
// restartPolicy Always: their output prefixed with the workload name, restarted
// with a growing delay when they exit, and stopped with SIGTERM then SIGKILL.
type supervisor struct {
	out     io.Writer
	outMu   sync.Mutex
	logger  *slog.Logger
	backoff backoff
	// pidDir receives <workload>.pid for each running workload; "" writes none.
	pidDir string
	// onReady, if not nil, is called once per workload, the first time every one of
	// its listen addresses accepts a connection.
	onReady func(workload string)
	// fatal receives the error that must stop the launcher: a workload that exited
	// with a configuration error before it ever became ready.
	fatal    chan error
	stopping chan struct{}
	stopOnce sync.Once
	procs    []*workloadProc
}

// workloadProc is one --exec command across its restarts.
type workloadProc struct {
	name   string
	argv   []string
	env    []string
	listen []stackconfig.ListenAddr
	done   chan struct{} // closed when it has exited for good
	ready  atomic.Bool   // some run of it has accepted connections on every listen address

	mu      sync.Mutex
	current *attempt // the process now running, nil between restarts
	tail    []string // its last output lines, for a failure block
}

// attempt is one start of a workload's command.
type attempt struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // Wait's result, set before exited closes
}

// backoff is the delay before restart n (0-based): First, doubling up to Max, and
// back to First after a run that lasted ResetAfter. Kubernetes uses 10 s doubling
// to 5 min, reset after 10 min of running; locally a crashing service should come
// back in about a second so that a fix is seen at once.
type backoff struct {
	First, Max, ResetAfter time.Duration
}

func (b backoff) delay(restarts int) time.Duration {
	d := b.First
	for range restarts {
		if d >= b.Max/2 {
			return b.Max
		}
		d *= 2
	}
	return min(d, b.Max)
}

var defaultBackoff = backoff{First: time.Second, Max: 30 * time.Second, ResetAfter: time.Minute}

func newSupervisor(out io.Writer, logger *slog.Logger) *supervisor {
	return &supervisor{out: out, logger: logger, backoff: defaultBackoff, fatal: make(chan error, 1), stopping: make(chan struct{})}
}

// start runs argv with the launcher's environment overlaid by env, and keeps it
// running until stop; listen are the addresses that say it is ready once they
// accept connections. Only the first start's failure is returned (a command that
// cannot even be started is a usage error); later ones are logged and retried.
func (s *supervisor) start(workload string, argv []string, env map[string]string, listen []stackconfig.ListenAddr) error {
	w := &workloadProc{name: workload, argv: argv, env: mergeEnv(os.Environ(), env), listen: listen, done: make(chan struct{})}
	r, err := s.launch(w, 0)
	if err != nil {
		return fmt.Errorf("--exec %s: %w", workload, err)
	}
	s.procs = append(s.procs, w)
	go s.keepRunning(w, r)
	return nil
}

// launch starts run number restart of w and the goroutines that copy its output,
// watch its listen addresses and reap it.
func (s *supervisor) launch(w *workloadProc, restart int) (*attempt, error) {
	cmd := exec.Command(w.argv[0], w.argv[1:]...)
	cmd.Env = w.env
	cmd.SysProcAttr = childSysProcAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-s.stopping:
		return nil, errStopping
	default:
	}
	if err := startChild(cmd); err != nil {
		return nil, err
	}
	r := &attempt{cmd: cmd, exited: make(chan struct{})}
	w.current = r
	pid := cmd.Process.Pid
	attrs := []any{"workload", w.name, "pid", pid}
	if restart > 0 {
		attrs = append(attrs, "restart", restart)
	}
	if p, err := writePIDFile(s.pidDir, w.name, pid); err != nil {
		s.logger.Warn("cannot write the workload's pid file", "workload", w.name, "err", err)
	} else if p != "" {
		attrs = append(attrs, "pidfile", p)
	}
	s.logger.Info("started", append(attrs, "command", w.argv)...)
	var pumps sync.WaitGroup
	pumps.Add(2)
	go s.pump(w, stdout, &pumps)
	go s.pump(w, stderr, &pumps)
	go s.watchReady(w, r)
	go func() {
		pumps.Wait() // Wait closes the pipes: read them to the end first
		r.err = cmd.Wait()
		removePIDFile(s.pidDir, w.name, pid)
		w.mu.Lock()
		w.current = nil
		w.mu.Unlock()
		close(r.exited)
	}()
	return r, nil
}

var errStopping = errors.New("the launcher is stopping")

// keepRunning waits for each run of w to end and starts the next after the backoff,
// until the launcher stops or the workload reports a configuration error.
func (s *supervisor) keepRunning(w *workloadProc, r *attempt) {
	defer close(w.done)
	restarts := 0
	for {
		began := time.Now()
		<-r.exited
		select {
		case <-s.stopping:
			s.logExit(w.name, r.err, "")
			return
		default:
		}
		if exitCode(r.err) == exitConfig {
			s.configError(w)
			return
		}
		if time.Since(began) >= s.backoff.ResetAfter {
			restarts = 0
		}
		for {
			d := s.backoff.delay(restarts)
			restarts++
			s.logExit(w.name, r.err, fmt.Sprintf("restarting it in %s (restart %d), as Kubernetes restarts a container of a pod with restartPolicy Always", d, restarts))
			select {
			case <-s.stopping:
				return
			case <-time.After(d):
			}
			next, err := s.launch(w, restarts)
			if errors.Is(err, errStopping) {
				return
			}
			if err == nil {
				r = next
				break
			}
			r = &attempt{err: err}
		}
	}
}

func (s *supervisor) logExit(workload string, err error, then string) {
	attrs := []any{"workload", workload}
	var ee *exec.ExitError
	switch {
	case err == nil:
		attrs = append(attrs, "status", "exit status 0")
	case errors.As(err, &ee):
		attrs = append(attrs, "status", ee.ProcessState.String())
	default:
		attrs = append(attrs, "err", err)
	}
	if then == "" {
		s.logger.Info("exited", attrs...)
		return
	}
	s.logger.Warn("exited; "+then, attrs...)
}

// exitCode is the process's exit status, or -1 if it did not exit normally.
func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	default:
		return -1
	}
}

func (s *supervisor) pump(w *workloadProc, r io.Reader, done *sync.WaitGroup) {
	defer done.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := w.name + " | " + sc.Text()
		w.mu.Lock()
		w.tail = append(w.tail, line)
		if len(w.tail) > tailLines {
			w.tail = w.tail[len(w.tail)-tailLines:]
		}
		w.mu.Unlock()
		s.outMu.Lock()
		fmt.Fprintln(s.out, line)
		s.outMu.Unlock()
	}
}

// stop ends restarts, sends SIGTERM to every running child's process group, waits
// up to grace, then kills what is left.
func (s *supervisor) stop(grace time.Duration) {
	s.stopOnce.Do(func() { close(s.stopping) })
	for _, w := range s.procs {
		w.mu.Lock()
		if w.current != nil {
			terminate(w.current.cmd.Process)
		}
		w.mu.Unlock()
	}
	deadline := time.Now().Add(grace)
	for _, w := range s.procs {
		select {
		case <-w.done:
		case <-time.After(time.Until(deadline)):
			s.logger.Warn("did not exit after SIGTERM; killing it", "workload", w.name, "grace", grace)
			w.mu.Lock()
			if w.current != nil {
				kill(w.current.cmd.Process)
			}
			w.mu.Unlock()
			<-w.done
		}
	}
}

// mergeEnv overlays env on base (KEY=value entries), replacing existing keys.
func mergeEnv(base []string, env map[string]string) []string {
	out := make([]string, 0, len(base)+len(env))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, over := env[k]; !over {
			out = append(out, kv)
		}
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}
