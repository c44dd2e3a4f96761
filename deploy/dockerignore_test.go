package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// maxContext is the budget for the images' build context (the tracked files that
// .dockerignore lets through): the non-test sources of the Go workspace, about 1.2 MB
// now, with room to grow but not for a binary, a dump or a vendored tree.
const maxContext = 2 << 20

// contextMatcher reads .dockerignore with the parser and matcher BuildKit itself uses
// (github.com/moby/patternmatcher: ignorefile.ReadAll, then MatchesOrParentMatches, as
// buildkit's fsutil filter applies them to the build context).
func contextMatcher(t *testing.T, root string) *patternmatcher.PatternMatcher {
	t.Helper()
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return pm
}

func excluded(t *testing.T, pm *patternmatcher.PatternMatcher, rel string) bool {
	t.Helper()
	ok, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// imageInputs lists what the images' builds read: every Go file and embedded file that
// `go build` compiles for the binaries the Dockerfiles build (go list -deps, in the
// workspace), the go.mod/go.sum files and go.work, and what the Dockerfiles COPY by name.
func imageInputs(t *testing.T, root string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", `{{if not .Standard}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}
{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}
{{end}}{{with .Module}}{{with .GoMod}}{{.}}
{{end}}{{end}}{{end}}`,
		"./frontend", "./backend", "./localazure/cmd/localazure", "./deploy/cmd/envexec", "./deploy/cmd/emuseed")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	var files []string
	for _, line := range strings.Split(string(out), "\n") {
		rel, err := filepath.Rel(root, line)
		if line == "" || err != nil || strings.HasPrefix(rel, "..") {
			continue // the module cache: downloaded inside the image, not copied
		}
		files = append(files, rel)
		if strings.HasSuffix(rel, "go.mod") {
			if _, err := os.Stat(filepath.Join(root, strings.TrimSuffix(rel, "mod")+"sum")); err == nil {
				files = append(files, strings.TrimSuffix(rel, "mod")+"sum")
			}
		}
	}
	return append(files, "go.work", "go.work.sum", "localazure.json",
		"localazure/azurite/package.json", "localazure/azurite/package-lock.json", "localazure/azurite/fast-start.js", "localazure/azurite/durable.js")
}

// TestDockerignoreKeepsTheContextSmall: everything the builds read is in the context,
// what must never be in an image is out, and the rest stays under the budget.
func TestDockerignoreKeepsTheContextSmall(t *testing.T) {
	root := repoRoot(t)
	pm := contextMatcher(t, root)

	inputs := imageInputs(t, root)
	if len(inputs) < 50 {
		t.Fatalf("only %d build inputs listed; go list found too little to prove anything", len(inputs))
	}
	for _, f := range inputs {
		if excluded(t, pm, f) {
			t.Errorf("%s: the images build from it, but .dockerignore leaves it out", f)
		}
	}
	for _, f := range []string{
		".git/config", "deploy/overlays/aks/aks.env", ".localazure/frontend.env",
		"localazure/azurite/node_modules/azurite/package.json", "frontend/frontend", "backend/backend",
		"localazure/cmd/localazure/localazure", "localazure/cmd/localazure/localazure.exe",
		"frontend/main_test.go", "docs/deployment.md", "infra/main.bicep",
	} {
		if !excluded(t, pm, f) {
			t.Errorf("%s is in the build context", f)
		}
	}

	var size int64
	for _, f := range gitFiles(t, root, "ls-files", "-z") {
		if excluded(t, pm, f) {
			continue
		}
		if info, err := os.Stat(filepath.Join(root, f)); err == nil {
			size += info.Size()
		}
	}
	if size > maxContext {
		t.Errorf("build context %d bytes of tracked files, over the %d budget: ignore what no image needs", size, maxContext)
	}
	t.Logf("build context: %d bytes of tracked files", size)
}
