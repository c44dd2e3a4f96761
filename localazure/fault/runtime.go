package fault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// RuntimeFile is the file in the state directory where `localazure fault` keeps
// the run-time rules and `localazure up` watches for them. A file, not a port:
// whoever may write the state directory (which holds the CA key and the tokens)
// may already do anything to the stack.
const RuntimeFile = "faults.json"

// runtimeRule is a rule with its window made absolute, so that the launcher reading
// the file later still ends it on time.
type runtimeRule struct {
	Rule
	Expires time.Time `json:"expires,omitzero"`
}

// ReadRuntime returns the run-time rules in dir that have not expired, each For
// shortened to what is left of its window.
func ReadRuntime(dir string, now time.Time) ([]Rule, error) {
	b, err := os.ReadFile(filepath.Join(dir, RuntimeFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read faults: %w", err)
	}
	var list []runtimeRule
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, RuntimeFile), err)
	}
	var out []Rule
	for _, r := range list {
		if !r.Expires.IsZero() {
			left := r.Expires.Sub(now)
			if left <= 0 {
				continue
			}
			r.For = left.Round(time.Millisecond).String()
		}
		out = append(out, r.Rule)
	}
	return out, nil
}

// WriteRuntime validates rules and replaces the run-time rules in dir with them.
func WriteRuntime(dir string, rules []Rule, now time.Time) error {
	list := make([]runtimeRule, 0, len(rules))
	for i, r := range rules {
		c, err := r.compile(now)
		if err != nil {
			return fmt.Errorf("fault %d: %w", i+1, err)
		}
		list = append(list, runtimeRule{Rule: r, Expires: c.until})
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	tmp := filepath.Join(dir, RuntimeFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write faults: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, RuntimeFile))
}

// Watch applies the run-time rules in dir now and whenever the file changes, until
// ctx ends. A file that does not parse is logged and the rules in force stay.
func (in *Injector) Watch(ctx context.Context, dir string) {
	var last time.Time
	var lastSize int64 = -1
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		fi, err := os.Stat(filepath.Join(dir, RuntimeFile))
		mod, size := time.Time{}, int64(-2)
		if err == nil {
			mod, size = fi.ModTime(), fi.Size()
		}
		if !mod.Equal(last) || size != lastSize {
			last, lastSize = mod, size
			rules, err := ReadRuntime(dir, in.now())
			if err == nil {
				err = in.Set("runtime", rules)
			}
			if err != nil {
				in.log.Error("faults from `localazure fault` not applied", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
