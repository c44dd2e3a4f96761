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
	"time"
)

// supervisor runs the --exec commands, prefixing their output with the workload name.
type supervisor struct {
	out    io.Writer
	outMu  sync.Mutex
	logger *slog.Logger
	procs  []*child
}

type child struct {
	workload string
	cmd      *exec.Cmd
	done     chan struct{}
	pumps    sync.WaitGroup
}

func newSupervisor(out io.Writer, logger *slog.Logger) *supervisor {
	return &supervisor{out: out, logger: logger}
}

// start runs argv with the launcher's environment overlaid by env.
func (s *supervisor) start(workload string, argv []string, env map[string]string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = mergeEnv(os.Environ(), env)
	cmd.SysProcAttr = childSysProcAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("--exec %s: %w", workload, err)
	}
	c := &child{workload: workload, cmd: cmd, done: make(chan struct{})}
	s.procs = append(s.procs, c)
	s.logger.Info("started", "workload", workload, "pid", cmd.Process.Pid, "command", argv)
	c.pumps.Add(2)
	go s.pump(c, stdout)
	go s.pump(c, stderr)
	go func() {
		c.pumps.Wait() // Wait closes the pipes: read them to the end first
		err := cmd.Wait()
		close(c.done)
		var ee *exec.ExitError
		switch {
		case err == nil:
			s.logger.Info("exited", "workload", workload)
		case errors.As(err, &ee):
			s.logger.Warn("exited", "workload", workload, "status", ee.ProcessState.String())
		default:
			s.logger.Warn("exited", "workload", workload, "err", err)
		}
	}()
	return nil
}

func (s *supervisor) pump(c *child, r io.Reader) {
	defer c.pumps.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		s.outMu.Lock()
		fmt.Fprintf(s.out, "%s | %s\n", c.workload, sc.Bytes())
		s.outMu.Unlock()
	}
}

// stop sends SIGTERM to every child's process group, waits up to grace, then kills
// what is left.
func (s *supervisor) stop(grace time.Duration) {
	for _, c := range s.procs {
		select {
		case <-c.done:
		default:
			terminate(c.cmd.Process)
		}
	}
	deadline := time.After(grace)
	for _, c := range s.procs {
		select {
		case <-c.done:
		case <-deadline:
			s.logger.Warn("did not exit after SIGTERM; killing it", "workload", c.workload, "grace", grace)
			kill(c.cmd.Process)
			<-c.done
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
