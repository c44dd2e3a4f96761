package stack_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contoso/orderflow/localazure/stack"
)

// TestEnvFileQuoting: what FormatEnv writes, ParseEnv and a POSIX shell read back
// unchanged, whatever the value holds (a state directory with spaces, quotes, $).
func TestEnvFileQuoting(t *testing.T) {
	env := map[string]string{
		"PLAIN":   "https://127.0.0.1:8401/",
		"SPACES":  "/home/a b/.localazure/ca.pem",
		"QUOTE":   "it's",
		"DOLLAR":  "$HOME and `cmd`",
		"EMPTY":   "",
		"EQUALS":  "a=b;c",
		"UNICODE": "naïve",
	}
	text := stack.FormatEnv("w", env)
	back, err := stack.ParseEnv(text)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range env {
		if back[k] != v {
			t.Errorf("%s: %q came back as %q", k, v, back[k])
		}
	}
	p := filepath.Join(t.TempDir(), "w.env")
	os.WriteFile(p, []byte(text), 0o600)
	for k, v := range env {
		got, err := exec.Command("sh", "-c", `set -a; . "$1"; printenv "$2"`, "sh", p, k).Output()
		if err != nil && v != "" { // printenv of an empty value still succeeds; a failure is a bad file
			t.Fatalf("sh could not source the env file: %v\n%s", err, text)
		}
		if strings.TrimSuffix(string(got), "\n") != v {
			t.Errorf("sh reads %s as %q, want %q", k, got, v)
		}
	}
}
