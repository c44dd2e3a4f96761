package deploy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contoso/orderflow/deploy/internal/dockerlint"
)

func TestDockerfiles(t *testing.T) {
	for file, rules := range map[string]dockerlint.Rules{
		"frontend/Dockerfile": {DistrolessFinal: true, GoStatic: true},
		"backend/Dockerfile":  {DistrolessFinal: true, GoStatic: true},
		// Node is Azurite's runtime, so not distroless; still multi-stage, pinned, non-root.
		"localazure/Dockerfile": {GoStatic: true},
	} {
		b, err := os.ReadFile(filepath.Join(repoRoot(t), file))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range dockerlint.Check(string(b), rules) {
			t.Errorf("%s: %s", file, p)
		}
		_, stages, _ := dockerlint.Parse(string(b))
		// go.work ties the modules: the builder must see the whole workspace.
		if !strings.Contains(string(b), "COPY . .") || !strings.HasPrefix(stages[0].Image, "golang:1.26") {
			t.Errorf("%s: the golang:1.26 builder must copy the whole workspace (go.work)", file)
		}
	}
	// The image builds only what it needs; .dockerignore keeps the rest out.
	di, err := os.ReadFile(filepath.Join(repoRoot(t), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "**/node_modules", ".localazure", "deploy/overlays/aks/aks.env"} {
		if !strings.Contains(string(di), want+"\n") {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
}
