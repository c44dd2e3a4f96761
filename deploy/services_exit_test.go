package deploy_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/contoso/orderflow/platform/config"
)

// TestServicesExit78EvenWithABrokenPipe runs each service's real binary with no
// configuration and stdout/stderr pipes whose reader is already gone, as under a
// launcher that was killed: it must exit 78 (a configuration error, which
// `localazure up` does not restart and a pod's status shows), not die of SIGPIPE on
// its first log write.
func TestServicesExit78EvenWithABrokenPipe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	root := repoRoot(t)
	for _, svc := range []string{"frontend", "backend"} {
		t.Run(svc, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), svc)
			build := exec.Command("go", "build", "-o", bin, ".")
			build.Dir = filepath.Join(root, svc)
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			r.Close() // the reader is gone before the service writes anything
			cmd := exec.Command(bin)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			cmd.Stdout, cmd.Stderr = w, w
			err = cmd.Run()
			w.Close()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != config.ExitConfig {
				t.Fatalf("exit: %v (want exit status %d; a signal here means SIGPIPE killed it)", err, config.ExitConfig)
			}
		})
	}
}
