package entraemu

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Token files rotate at 80% of their lifetime; each version is a valid assertion.
func TestTokenFileRotation(t *testing.T) {
	dir := t.TempDir()
	e := startEntra(t, func(o *Options) { o.TokenDir = dir; o.TokenTTL = 1500 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Run(ctx) }()

	file := e.srv.TokenFile("frontend")
	if file != filepath.Join(dir, "frontend", "azure-identity-token") {
		t.Fatalf("TokenFile = %q", file)
	}
	first := waitForFile(t, file, "")
	c := claimsOf(t, first)
	if c["sub"] != "system:serviceaccount:orderflow:frontend" || c["iss"] != e.srv.IssuerURL() {
		t.Errorf("claims %v", c)
	}
	if aud := c["aud"].([]any); len(aud) != 1 || aud[0] != TokenExchangeAudience {
		t.Errorf("aud %v", aud)
	}
	k8s := c["kubernetes.io"].(map[string]any)
	if k8s["namespace"] != "orderflow" || k8s["serviceaccount"].(map[string]any)["name"] != "frontend" || k8s["pod"] == nil {
		t.Errorf("kubernetes.io %v", k8s)
	}
	if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat < 1 || exp-iat > 2 {
		t.Errorf("lifetime %v s, want 1.5 s", exp-iat)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v %v", st.Mode(), err)
	}

	second := waitForFile(t, file, first) // rewritten after 1.2 s
	if r := e.post(t, "/"+testTenant+"/oauth2/v2.0/token", exchangeForm(frontendApp, second, vaultScope)); r.Status != 200 {
		t.Errorf("rotated token refused: %+v", r)
	}
	third := waitForFile(t, file, second)
	if third == second {
		t.Fatal("no rotation")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "frontend"))
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	// Every workload gets its own file.
	if b, err := os.ReadFile(e.srv.TokenFile("backend")); err != nil || claimsOf(t, string(b))["sub"] != "system:serviceaccount:orderflow:backend" {
		t.Errorf("backend token file: %v", err)
	}
}

func TestRunWithoutTokenDir(t *testing.T) {
	e := startEntra(t, nil)
	if e.srv.TokenFile("frontend") != "" {
		t.Error("TokenFile without TokenDir")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.srv.Run(ctx); err != nil {
		t.Error(err)
	}
	if err := e.srv.WriteTokenFiles(); err == nil {
		t.Error("WriteTokenFiles without TokenDir succeeded")
	}
}

func TestRunFailsOnUnwritableDir(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e := startEntra(t, func(o *Options) { o.TokenDir = blocker })
	if err := e.srv.Run(context.Background()); err == nil {
		t.Error("Run wrote below a regular file")
	}
}

// waitForFile waits until file exists with content other than prev.
func waitForFile(t *testing.T, file, prev string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(file); err == nil && len(b) > 0 && string(b) != prev {
			return string(b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not change", file)
	return ""
}
