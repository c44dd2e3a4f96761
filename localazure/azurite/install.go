package azurite

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Version is the Azurite release package.json pins.
const Version = "3.37.0"

// ErrNotInstalled reports that node_modules holds no azurite-blob.
var ErrNotInstalled = errors.New("Azurite is not installed: run `make run` or scripts/install-test-deps.sh to install Azurite from npm")

// PackageDir is where package.json lives relative to the repository root.
const PackageDir = "localazure/azurite"

// FindDir returns the folder holding Azurite's package.json: under root when root is
// not empty, else in the working directory or the closest parent that has
// localazure/azurite/package.json.
func FindDir(root string) (string, error) {
	if root != "" {
		d := filepath.Join(root, PackageDir)
		if _, err := os.Stat(filepath.Join(d, "package.json")); err != nil {
			return "", fmt.Errorf("azurite: no package.json in %s: %w", d, err)
		}
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("azurite: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		for _, cand := range []string{filepath.Join(d, PackageDir), d} {
			if _, err := os.Stat(filepath.Join(cand, "package.json")); err == nil && filepath.Base(cand) == "azurite" {
				return cand, nil
			}
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("azurite: no %s/package.json in %s or above", PackageDir, wd)
		}
	}
}

// binary returns the azurite-blob launcher in dir's node_modules, or ErrNotInstalled.
func binary(dir string) (string, error) {
	bin := filepath.Join(dir, "node_modules", ".bin", "azurite-blob")
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		return "", fmt.Errorf("%w (looked for %s)", ErrNotInstalled, bin)
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("azurite: node is not on PATH; Azurite %s needs Node.js 20 or later: %w", Version, err)
	}
	return bin, nil
}

// Installed reports whether Azurite is installed under dir.
func Installed(dir string) bool {
	_, err := binary(dir)
	return err == nil
}
