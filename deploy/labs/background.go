package labs

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// syncBuffer is output that a command writes while the runner reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// setGroup gives the command a process group of its own, as a terminal gives its
// foreground job: Ctrl-C reaches the whole job (make, the script, the launcher).
func setGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// background is a block left running, like `make run` in the first terminal.
type background struct {
	block  *Block
	cmd    *exec.Cmd
	out    *syncBuffer
	done   chan struct{}
	status int // valid once done is closed
}

func (bg *background) exited() bool {
	select {
	case <-bg.done:
		return true
	default:
		return false
	}
}

// stop is Ctrl-C: SIGINT to the group, then SIGKILL if it has not ended in 30 s
// (the launcher gives the services 10 s, then stops the stand-ins).
func (bg *background) stop() {
	if bg.exited() {
		return
	}
	_ = syscall.Kill(-bg.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-bg.done:
	case <-time.After(30 * time.Second):
		_ = killGroup(bg.cmd)
		<-bg.done
	}
}

// startBackground starts the block and waits for its wait-for text. A launcher
// that found its ports taken (another test's stack) is started again on another
// offset, a few times.
func (r *run) startBackground(ctx context.Context, b *Block, code string) error {
	bgName := name(argsOf(b.Mods, "background"), 0)
	if old, ok := r.bgs[bgName]; ok && !old.exited() {
		return r.fail(b.Line, b.Code, "", "background %q is still running; stop it first", bgName)
	}
	for attempt := 1; ; attempt++ {
		bg, err := r.spawn(b, code)
		if err != nil {
			return r.fail(b.Line, b.Code, "", "start: %v", err)
		}
		r.bgs[bgName] = bg
		m, ok := find(b.Mods, "wait-for")
		if !ok {
			return nil
		}
		d := 90 * time.Second
		if len(m.Args) > 1 {
			d, _ = time.ParseDuration(m.Args[1])
		}
		err = r.waitOutput(ctx, bg, m.Args[0], d)
		if err == nil {
			if u := readyLine.FindAllStringSubmatch(bg.out.String(), -1); len(u) > 0 {
				r.app = u[len(u)-1][1]
				r.logf("%s:%d: %s started, APP=%s", r.opt.Page, b.Line, bgName, r.app)
			}
			return nil
		}
		out := bg.out.String()
		if attempt < 5 && r.hasOffs && bg.exited() && strings.Contains(out, "ports are taken") {
			r.offset, _ = r.opt.Offset()
			r.logf("%s:%d: ports taken, trying port offset %d", r.opt.Page, b.Line, r.offset)
			continue
		}
		return r.fail(b.Line, b.Code, out, "wait-for %q: %v", m.Args[0], err)
	}
}

func argsOf(ms []Marker, kind string) []string {
	m, _ := find(ms, kind)
	return m.Args
}

func (r *run) spawn(b *Block, code string) (*background, error) {
	cmd := shell(context.Background(), code)
	cmd.Dir = r.opt.Workshop.Dir
	cmd.Env = r.env()
	bg := &background{block: b, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = bg.out, bg.out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = cmd.Wait()
		bg.status = cmd.ProcessState.ExitCode()
		close(bg.done)
	}()
	return bg, nil
}

// waitOutput waits until bg's output has text; an exit first is an error.
func (r *run) waitOutput(ctx context.Context, bg *background, text string, d time.Duration) error {
	deadline := time.After(d)
	for {
		if strings.Contains(bg.out.String(), text) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("not in its output within %s", d)
		case <-bg.done:
			if strings.Contains(bg.out.String(), text) {
				return nil
			}
			return fmt.Errorf("it exited (status %d) first", bg.status)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *run) background(m Marker, bgName string) (*background, error) {
	bg, ok := r.bgs[bgName]
	if !ok {
		return nil, r.fail(m.Line, "", "", "%s: no background %q was started", m.Kind, bgName)
	}
	return bg, nil
}

func (r *run) stop(m Marker, bgName string) error {
	bg, err := r.background(m, bgName)
	if err != nil {
		return err
	}
	bg.stop()
	delete(r.bgs, bgName)
	// Stopped by Ctrl-C, its exit status is the interrupt's; its output still counts.
	mods := append([]Marker{{Kind: "exit", Args: []string{fmt.Sprint(bg.status)}}}, bg.block.Mods...)
	if want := check(mods, bg.out.String(), bg.status); want != "" {
		return r.fail(bg.block.Line, bg.block.Code, bg.out.String(), "after stop (line %d): %s", m.Line, want)
	}
	r.logf("%s:%d: stopped %s", r.opt.Page, m.Line, bgName)
	return nil
}

func (r *run) finish(ctx context.Context, m Marker, bgName string, d time.Duration) error {
	bg, err := r.background(m, bgName)
	if err != nil {
		return err
	}
	select {
	case <-bg.done:
	case <-time.After(d):
		bg.stop()
		return r.fail(bg.block.Line, bg.block.Code, bg.out.String(), "finish (line %d): still running after %s", m.Line, d)
	case <-ctx.Done():
		return ctx.Err()
	}
	delete(r.bgs, bgName)
	if want := check(bg.block.Mods, bg.out.String(), bg.status); want != "" {
		return r.fail(bg.block.Line, bg.block.Code, bg.out.String(), "finish (line %d): %s", m.Line, want)
	}
	r.logf("%s:%d: %s finished", r.opt.Page, m.Line, bgName)
	return nil
}

func (r *run) waitLog(ctx context.Context, m Marker, bgName, text string, d time.Duration) error {
	bg, err := r.background(m, bgName)
	if err != nil {
		return err
	}
	if err := r.waitOutput(ctx, bg, text, d); err != nil {
		return r.fail(m.Line, bg.block.Code, bg.out.String(), "log %q: %v", text, err)
	}
	r.logf("%s:%d: %s's output shows %q", r.opt.Page, m.Line, bgName, text)
	return nil
}
