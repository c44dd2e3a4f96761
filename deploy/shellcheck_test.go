package deploy_test

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestShellcheck lints scripts/*.sh. shellcheck comes from Debian
// (scripts/install-test-deps.sh installs it); a full run without it fails, -short skips.
func TestShellcheck(t *testing.T) {
	bin, err := exec.LookPath("shellcheck")
	if err != nil {
		if testing.Short() {
			t.Skip("shellcheck not installed (apt-get install -y shellcheck)")
		}
		t.Fatal("shellcheck not installed: run `apt-get update && apt-get install -y shellcheck` (scripts/install-test-deps.sh does)")
	}
	scripts, _ := filepath.Glob(filepath.Join(repoRoot(t), "scripts", "*.sh"))
	lib, _ := filepath.Glob(filepath.Join(repoRoot(t), "scripts", "lib", "*.sh"))
	scripts = append(scripts, lib...)
	if len(scripts) == 0 {
		t.Fatal("no scripts/*.sh")
	}
	args := append([]string{"--severity=style", "--external-sources", "--source-path=SCRIPTDIR"}, scripts...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Join(repoRoot(t), "scripts")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
}
