package labs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Workshop is the directory a lab's blocks run in: what a participant's clone looks
// like after `make run` has built, without its being the repository.
type Workshop struct {
	Dir  string
	Repo string
}

// linked are the repository entries a lab only reads (the Go workspace's modules,
// for `go run ./tools/load`, and the sources the labs point at); copied are the
// files a lab may change, so that its edits stay in the workshop.
var (
	linked = []string{"backend", "deploy", "docs", "frontend", "infra", "localazure", "platform", "tools"}
	copied = []string{"go.work", "go.work.sum", "localazure.json"}
)

// makefile and runLocal stand in for the repository's Makefile and
// scripts/run-local.sh once their install and build steps are done (the test built
// bin/ already): the same `localazure up` command, with the caller's arguments and
// environment.
const (
	makefile = "# The labs runner's stand-in for the repository's Makefile: bin/ is built.\nrun:\n\t./scripts/run-local.sh\n"
	runLocal = `#!/usr/bin/env bash
# The labs runner's stand-in for scripts/run-local.sh after its install and build.
set -euo pipefail
cd "$(dirname "$0")/.."
exec bin/localazure up --exec frontend=bin/frontend --exec backend=bin/backend "$@"
`
)

// RunLocalCommand is the line of scripts/run-local.sh the stand-in repeats; the test
// checks the repository's script still ends in it.
const RunLocalCommand = `exec bin/localazure up "${execs[@]}" "$@"`

// NewWorkshop makes dir a workshop of repo with the binaries in binDir
// (localazure, frontend, backend).
func NewWorkshop(dir, repo, binDir string) (*Workshop, error) {
	for _, name := range linked {
		if err := os.Symlink(filepath.Join(repo, name), filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("workshop: %w", err)
		}
	}
	for _, name := range copied {
		b, err := os.ReadFile(filepath.Join(repo, name))
		if err != nil {
			return nil, fmt.Errorf("workshop: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return nil, fmt.Errorf("workshop: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return nil, fmt.Errorf("workshop: %w", err)
	}
	for _, name := range []string{"localazure", "frontend", "backend"} {
		if err := os.Symlink(filepath.Join(binDir, name), filepath.Join(dir, "bin", name)); err != nil {
			return nil, fmt.Errorf("workshop: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
		return nil, fmt.Errorf("workshop: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte(makefile), 0o644); err != nil {
		return nil, fmt.Errorf("workshop: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scripts", "run-local.sh"), []byte(runLocal), 0o755); err != nil {
		return nil, fmt.Errorf("workshop: %w", err)
	}
	return &Workshop{Dir: dir, Repo: repo}, nil
}

// copyPath is the workshop's copy of name, refused for anything the workshop does not
// copy: an edit or restore must never reach the repository through a link.
func (w *Workshop) copyPath(name string) (string, error) {
	if !slices.Contains(copied, name) {
		return "", fmt.Errorf("%s is not a file the workshop copies (%v); the runner edits copies only", name, copied)
	}
	return filepath.Join(w.Dir, name), nil
}

// Restore puts the workshop's copy of name back as the repository has it.
func (w *Workshop) Restore(name string) error {
	dst, err := w.copyPath(name)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(w.Repo, name))
	if err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	return nil
}

// Edit applies an edit marker's operation to the workshop's copy of name.
func (w *Workshop) Edit(name, op, path string, value []byte) error {
	p, err := w.copyPath(name)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("edit %s: %w", name, err)
	}
	out, err := editJSON(b, op, path, value)
	if err != nil {
		return fmt.Errorf("edit %s %s %s: %w", name, op, path, err)
	}
	if err := os.WriteFile(p, out, 0o644); err != nil {
		return fmt.Errorf("edit %s: %w", name, err)
	}
	return nil
}
