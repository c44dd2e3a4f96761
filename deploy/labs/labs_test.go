package labs_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/deploy/labs"
	"github.com/contoso/orderflow/localazure/azurite"
)

const page = "docs/labs.md"

// TestLabs runs every lab of docs/labs.md against the local stack, each in a
// workshop directory of its own on its own port offset, and fails with the lab, the
// block, its output and the expectation a changed page, app or launcher broke.
func TestLabs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the labs on the local stack (about a minute); skipped under -short")
	}
	root := repoRoot(t)
	requireTools(t, root)
	b, err := os.ReadFile(filepath.Join(root, page))
	if err != nil {
		t.Fatal(err)
	}
	all, err := labs.Parse(string(b))
	if err != nil {
		t.Fatalf("%s: %v", page, err)
	}
	if len(all) == 0 {
		t.Fatalf("%s: no \"## Lab\" sections", page)
	}
	script, err := os.ReadFile(filepath.Join(root, "scripts", "run-local.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), labs.RunLocalCommand) {
		t.Fatalf("scripts/run-local.sh no longer runs %s; the labs' stand-in for it (deploy/labs/workshop.go) must follow", labs.RunLocalCommand)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./localazure/cmd/localazure", "./frontend", "./backend")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	env := blockEnv()
	for _, lab := range all {
		t.Run(lab.Name, func(t *testing.T) {
			ws, err := labs.NewWorkshop(t.TempDir(), root, bin)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
			defer cancel()
			start := time.Now()
			err = labs.Run(ctx, lab, labs.Options{
				Workshop: ws, Env: env, Page: page, Offset: labs.RandomOffset,
				Log: func(s string) { t.Log(s) },
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s", lab.Name, time.Since(start).Round(100*time.Millisecond))
		})
	}
}

// requireTools skips outside CI when what `make run` installs is missing (Azurite
// from npm, Node.js) or make is; in CI, where the project installs everything, it fails.
func requireTools(t *testing.T, root string) {
	t.Helper()
	var missing []string
	if !azurite.Installed(filepath.Join(root, azurite.PackageDir)) {
		missing = append(missing, "Azurite (scripts/install-run-deps.sh)")
	}
	for _, tool := range []string{"node", "make", "bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("the labs need %s", strings.Join(missing, ", "))
	}
	t.Skipf("the labs need %s", strings.Join(missing, ", "))
}

// blockEnv is the test's environment without what would steer the launcher away
// from the runner's choices (its port offset, the listen addresses, APP).
func blockEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "LOCALAZURE_PORT_OFFSET", "HTTP_ADDR", "HEALTH_ADDR", "APP":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.work above the test's directory")
		}
		dir = parent
	}
}
