package labs

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Options are what a lab's run needs from its caller.
type Options struct {
	Workshop *Workshop
	Env      []string           // the environment every block starts from
	Log      func(string)       // progress lines (t.Log)
	Offset   func() (int, bool) // a port offset to try, or false to leave ports alone
	Page     string             // the page's name in failures, e.g. docs/labs.md
}

// Failure is a lab that did not do what its page says.
type Failure struct {
	Lab, Page string
	Line      int
	Code      string // the block, when a block failed
	Output    string
	Want      string // the expectation not met
}

func (f *Failure) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %s:%d: %s", f.Lab, f.Page, f.Line, f.Want)
	if f.Code != "" {
		fmt.Fprintf(&b, "\n--- block\n%s", f.Code)
	}
	if f.Output != "" {
		fmt.Fprintf(&b, "--- output\n%s", tail(f.Output, 16<<10))
	}
	return b.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// run is one lab in progress.
type run struct {
	opt     Options
	lab     Lab
	vars    string // the file carrying the foreground terminal's shell variables
	bgs     map[string]*background
	app     string // APP: the frontend's URL from the last ready line
	offset  int
	hasOffs bool
}

// Run runs lab's steps in order in its workshop and stops what it started.
func Run(ctx context.Context, lab Lab, opt Options) (err error) {
	r := &run{opt: opt, lab: lab, bgs: map[string]*background{}}
	tmp, err := os.MkdirTemp("", "lab-shell-")
	if err != nil {
		return fmt.Errorf("%s: %w", lab.Name, err)
	}
	defer os.RemoveAll(tmp)
	r.vars = filepath.Join(tmp, "vars.sh")
	if opt.Offset != nil {
		r.offset, r.hasOffs = opt.Offset()
	}
	defer func() {
		for _, bg := range r.bgs {
			bg.stop()
		}
	}()
	for _, s := range lab.Steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.Action != nil {
			err = r.action(ctx, *s.Action, s.Block)
		} else {
			err = r.block(ctx, s.Block)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *run) fail(line int, code, output, format string, args ...any) error {
	return &Failure{Lab: r.lab.Name, Page: r.opt.Page, Line: line, Code: code, Output: output, Want: fmt.Sprintf(format, args...)}
}

func (r *run) logf(format string, args ...any) {
	if r.opt.Log != nil {
		r.opt.Log(fmt.Sprintf(format, args...))
	}
}

// env is the environment of a block: the caller's, the port offset and APP.
func (r *run) env() []string {
	env := append([]string{}, r.opt.Env...)
	if r.hasOffs {
		env = append(env, "LOCALAZURE_PORT_OFFSET="+strconv.Itoa(r.offset))
	}
	if r.app != "" {
		env = append(env, "APP="+r.app)
	}
	return env
}

// code is the block as it runs: with its replace markers applied.
func (r *run) code(b *Block) (string, error) {
	code := b.Code
	for _, m := range b.Mods {
		if m.Kind != "replace" {
			continue
		}
		if n := strings.Count(code, m.Args[0]); n != 1 {
			return "", r.fail(m.Line, b.Code, "", "replace %q: it occurs %d times in the block, not once", m.Args[0], n)
		}
		code = strings.Replace(code, m.Args[0], m.Args[1], 1)
		r.logf("%s:%d: runs with %q for %q", r.opt.Page, m.Line, m.Args[1], m.Args[0])
	}
	return code, nil
}

func (r *run) block(ctx context.Context, b *Block) error {
	for _, k := range []string{"azure", "manual"} {
		if m, ok := find(b.Mods, k); ok {
			r.logf("%s:%d: not run (%s) %s", r.opt.Page, b.Line, k, strings.Join(m.Args, " "))
			return nil
		}
	}
	if has(b.Mods, "vars") {
		return r.checkVars(b)
	}
	code, err := r.code(b)
	if err != nil {
		return err
	}
	if has(b.Mods, "background") {
		return r.startBackground(ctx, b, code)
	}
	timeout := 2 * time.Minute
	if m, ok := find(b.Mods, "timeout"); ok {
		timeout, _ = time.ParseDuration(m.Args[0])
	}
	var until time.Time
	if m, ok := find(b.Mods, "until"); ok {
		d, _ := time.ParseDuration(m.Args[0])
		until = time.Now().Add(d)
	}
	for attempt := 1; ; attempt++ {
		out, status, err := r.foreground(ctx, code, timeout)
		if err != nil {
			return r.fail(b.Line, b.Code, out, "run the block: %v", err)
		}
		want := check(b.Mods, out, status)
		if want == "" {
			if err := os.Rename(r.vars+".new", r.vars); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%s: keep the block's variables: %w", r.lab.Name, err)
			}
			r.logf("%s:%d: ok (attempt %d)", r.opt.Page, b.Line, attempt)
			return nil
		}
		if time.Now().After(until) {
			if !until.IsZero() {
				want += fmt.Sprintf(" (still not after %d attempts, until %s)", attempt, until.Format(time.TimeOnly))
			}
			return r.fail(b.Line, b.Code, out, "%s", want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// prelude and trailer carry the foreground terminal's variables from block to block:
// the names bash has before the block are left out, the rest written for the next.
const (
	prelude = "__lab_base=\" $(compgen -v | tr '\\n' ' ') \"\nif [[ -f %[1]q ]]; then . %[1]q; fi\n"
	trailer = "\nfor __lab_n in $(compgen -v); do\n" +
		"  [[ $__lab_base == *\" $__lab_n \"* || $__lab_n == __lab* ]] && continue\n" +
		"  declare -p \"$__lab_n\"\n" +
		"done > %q\n"
)

// foreground runs one block to its end and returns its output and exit status.
func (r *run) foreground(ctx context.Context, code string, timeout time.Duration) (string, int, error) {
	script := fmt.Sprintf(prelude, r.vars) + code + fmt.Sprintf(trailer, r.vars+".new")
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := shell(ctx, script)
	cmd.Dir = r.opt.Workshop.Dir
	cmd.Env = r.env()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return out.String(), -1, fmt.Errorf("not done within %s", timeout)
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode(), nil
	case err != nil:
		return out.String(), -1, err
	}
	return out.String(), 0, nil
}

func shell(ctx context.Context, script string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-euo", "pipefail", "-c", script)
	setGroup(cmd)
	return cmd
}

// check returns the first expectation output and status do not meet, or "".
func check(mods []Marker, out string, status int) string {
	want := 0
	if m, ok := find(mods, "exit"); ok {
		want, _ = strconv.Atoi(m.Args[0])
	}
	if status != want {
		return fmt.Sprintf("exit status %d, want %d", status, want)
	}
	for _, m := range mods {
		a := m.Args
		switch m.Kind {
		case "expect":
			if !strings.Contains(out, a[0]) {
				return fmt.Sprintf("line %d: expect %q: not in the output", m.Line, a[0])
			}
		case "reject":
			if strings.Contains(out, a[0]) {
				return fmt.Sprintf("line %d: reject %q: it is in the output", m.Line, a[0])
			}
		case "expect-re":
			re, err := regexp.Compile(a[0])
			if err != nil {
				return fmt.Sprintf("line %d: expect-re %q: %v", m.Line, a[0], err)
			}
			if !re.MatchString(out) {
				return fmt.Sprintf("line %d: expect-re %q: no match in the output", m.Line, a[0])
			}
		}
	}
	return ""
}

// checkVars checks a block of NAME=value lines the runner sets itself: the page's
// value must be the runner's with the port offset taken away.
func (r *run) checkVars(b *Block) error {
	for _, line := range strings.Split(b.Code, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, val, _ := strings.Cut(line, "=")
		val, _, _ = strings.Cut(val, " #")
		if name != "APP" {
			return r.fail(b.Line, b.Code, "", "vars: the runner sets APP only, not %s", name)
		}
		if r.app == "" {
			return r.fail(b.Line, b.Code, "", "vars: no launcher has printed its ready line yet")
		}
		if got := unshift(r.app, r.offset); got != strings.TrimSpace(val) {
			return r.fail(b.Line, b.Code, "", "vars: APP is %s here (%s without the port offset %d), the page says %s", r.app, got, r.offset, val)
		}
	}
	return nil
}

// unshift takes offset away from u's port.
func unshift(u string, offset int) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	port, err := strconv.Atoi(p.Port())
	if err != nil {
		return u
	}
	p.Host = p.Hostname() + ":" + strconv.Itoa(port-offset)
	return p.String()
}

// readyLine is the launcher's announcement of the page's URL.
var readyLine = regexp.MustCompile(`ready — open (https?://\S+?)/?(\s|$)`)

func (r *run) action(ctx context.Context, m Marker, b *Block) error {
	a := m.Args
	switch m.Kind {
	case "stop":
		return r.stop(m, name(a, 0))
	case "finish":
		d := 2 * time.Minute
		if len(a) > 1 {
			d, _ = time.ParseDuration(a[1])
		}
		return r.finish(ctx, m, a[0], d)
	case "log":
		bg, text, d := "run", a[0], time.Minute
		if len(a) > 1 {
			bg, text = a[0], a[1]
		}
		if len(a) > 2 {
			d, _ = time.ParseDuration(a[2])
		}
		return r.waitLog(ctx, m, bg, text, d)
	case "sleep":
		d, _ := time.ParseDuration(a[0])
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	case "restore":
		if err := r.opt.Workshop.Restore(a[0]); err != nil {
			return r.fail(m.Line, "", "", "%v", err)
		}
	case "edit":
		var value []byte
		switch {
		case b != nil:
			value = []byte(b.Code)
		case len(a) > 3:
			value = []byte(a[3])
		}
		if err := r.opt.Workshop.Edit(a[0], a[1], a[2], value); err != nil {
			return r.fail(m.Line, "", "", "%v", err)
		}
		r.logf("%s:%d: edited %s: %s %s", r.opt.Page, m.Line, a[0], a[1], a[2])
	case "known-issue":
		r.logf("%s:%d: known issue: %s", r.opt.Page, m.Line, a[0])
	}
	return nil
}

func name(args []string, i int) string {
	if len(args) > i {
		return args[i]
	}
	return "run"
}

// RandomOffset is an Offset that moves localazure.json's ports (5671 to 10000) to
// somewhere below Linux's ephemeral range (32768 up), where the test stacks of
// other packages take their ports.
func RandomOffset() (int, bool) { return 1000 + rand.IntN(21000), true }
