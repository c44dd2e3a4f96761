package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contoso/orderflow/platform/config"
)

// TestRunRefusesBadConfiguration checks that a misconfigured backend stops at once
// with every problem named, before touching the network.
func TestRunRefusesBadConfiguration(t *testing.T) {
	env := map[string]string{"WORKER_CONCURRENCY": "0", "COSMOS_ENDPOINT": "https://cosmos.example/"}
	err := run(context.Background(), func(k string) string { return env[k] }, io.Discard, nil)
	if err == nil {
		t.Fatal("run accepted an empty configuration")
	}
	for _, want := range []string{"KEYVAULT_URL is not set", "SERVICEBUS_NAMESPACE is not set", `WORKER_CONCURRENCY is "0"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestConfigErrorExits78EvenWithABrokenPipe runs the real binary with no
// configuration and stdout/stderr pipes whose reader is already gone, as under a
// launcher that was killed: the service must exit 78 (configuration error, which
// `localazure up` does not restart), not die of SIGPIPE on its first log write.
func TestConfigErrorExits78EvenWithABrokenPipe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "backend")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
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
}
