package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/authz"
	"github.com/contoso/orderflow/localazure/stack"
	"github.com/contoso/orderflow/localazure/stackconfig"
)

// startInProcessStack runs the repository's stack in-process on ephemeral ports, without
// Azurite, with its env files in a temporary state directory, as `up` writes them.
func startInProcessStack(t *testing.T) (st *stack.Stack, configPath, stateDir string) {
	t.Helper()
	configPath, err := stackconfig.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	stateDir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err = stack.Start(ctx, stack.Options{ConfigPath: configPath, StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.WriteEnvFiles(stateDir); err != nil {
		t.Fatal(err)
	}
	return st, configPath, stateDir
}

// runLauncher runs the launcher's command line in-process.
func runLauncher(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

var versionRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestSecretSetAndList: `secret set` writes a new version through the real
// WorkloadIdentityCredential and azsecrets client as secrets-writer (the workload
// localazure.json gives Key Vault Secrets Officer on the signing key), the access log
// says so, and `secret list` shows it first; a workload without the role is refused.
func TestSecretSetAndList(t *testing.T) {
	st, cfg, state := startInProcessStack(t)
	common := []string{"--config", cfg, "--state-dir", state}

	code, out, errOut := runLauncher(t, append([]string{"secret", "set", "receipt-signing-key", "--generate", "32"}, common...)...)
	if code != 0 {
		t.Fatalf("secret set: exit %d\n%s", code, errOut)
	}
	version := strings.TrimSpace(out)
	if !versionRE.MatchString(version) {
		t.Fatalf("secret set printed %q, want the new version id", out)
	}
	if !strings.Contains(errOut, "as workload secrets-writer") {
		t.Errorf("secret set does not say who wrote it: %q", errOut)
	}
	var wrote bool
	for _, a := range st.Access().Recent() {
		if a.Workload == "secrets-writer" && a.Service == "keyvault" && a.Decision == authz.Allowed &&
			a.Resource == "keyvault/secrets/receipt-signing-key" && a.Role == authz.KeyVaultSecretsOfficer && a.Status == 200 {
			wrote = true
		}
	}
	if !wrote {
		t.Errorf("the access log has no allowed write by secrets-writer: %+v", st.Access().Recent())
	}

	code, out, errOut = runLauncher(t, append([]string{"secret", "list", "receipt-signing-key"}, common...)...)
	if code != 0 {
		t.Fatalf("secret list: exit %d\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "VERSION") || !strings.HasPrefix(lines[1], version+" ") {
		t.Fatalf("secret list: want a header, the new version first and the seeded one, got:\n%s", out)
	}
	if f := strings.Fields(lines[1]); len(f) != 4 || f[2] != "true" || f[3] != "latest" {
		t.Errorf("secret list row %q: want version, created time, enabled, latest", lines[1])
	} else if _, err := time.Parse(time.RFC3339, f[1]); err != nil {
		t.Errorf("secret list created time: %v", err)
	}

	if f := strings.Fields(lines[2]); len(f) != 3 {
		t.Errorf("secret list: the seeded version %q is marked latest", lines[2])
	}

	// The frontend reads the key but may not write it: the vault refuses, as in Azure.
	code, _, errOut = runLauncher(t, append([]string{"secret", "set", "receipt-signing-key", "--value", "x", "--as", "frontend"}, common...)...)
	if code != 1 || !strings.Contains(errOut, "403") || !strings.Contains(errOut, "as workload frontend") {
		t.Errorf("secret set --as frontend: exit %d\n%s", code, errOut)
	}
}

func TestSecretUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"secret"},
		{"secret", "rotate", "x"},
		{"secret", "set", "x"},
		{"secret", "set", "x", "--value", "a", "--generate", "32"},
		{"secret", "set", "x", "--generate", "0"},
		{"secret", "set", "--generate", "32"},
		{"secret", "list"},
		{"secret", "list", "x", "--as", "nobody"},
	} {
		if code, _, errOut := runLauncher(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2 (usage)\n%s", args, code, errOut)
		}
	}
}

// TestSecretBeforeUp: without env files the command says to start the stack.
func TestSecretBeforeUp(t *testing.T) {
	cfg, err := stackconfig.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runLauncher(t, "secret", "list", "receipt-signing-key", "--config", cfg, "--state-dir", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "localazure up") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
}
