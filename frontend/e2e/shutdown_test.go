package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFrontendStopsOnSIGTERM starts a second frontend process and stops it as
// Kubernetes would: it must drain and exit 0 well within SHUTDOWN_TIMEOUT.
// (That open SSE streams end at once is checked in frontend/main_test.go.)
func TestFrontendStopsOnSIGTERM(t *testing.T) {
	requireStack(t)
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	// No reconciler, and the feed competes for the shared subscription only
	// for the few seconds this process lives, when no orders are in flight.
	svc, err := startService(context.Background(), "frontend-2", filepath.Join(env.bin, "frontend"), env.frontendStackEnv,
		map[string]string{"HTTP_ADDR": addr, "RECONCILE_INTERVAL": "0", "SHUTDOWN_TIMEOUT": "10s"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.cmd.Process.Kill() })
	if err := svc.waitReady(context.Background(), "http://"+addr, 60*time.Second); err != nil {
		t.Fatalf("second frontend not ready: %v", err)
	}
	start := time.Now()
	if err := svc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-svc.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("frontend still running 15s after SIGTERM")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if !strings.Contains(env.logs.String(), `frontend-2: {`) || !strings.Contains(env.logs.String(), `"msg":"stopped"`) {
		t.Error("the second frontend did not log a clean stop")
	}
}
