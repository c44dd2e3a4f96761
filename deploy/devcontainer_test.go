package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tailscale/hujson"
)

// featureRef is the form of a Feature published to an OCI registry, per the Dev
// Container spec (containers.dev/implementors/features-distribution/):
// <registry>/<namespace>/<id>, then a semantic-version tag (major, major.minor or full)
// or a digest. No tag means "latest", which is not pinned.
var featureRef = regexp.MustCompile(`^(ghcr\.io/[a-z0-9-]+/[a-z0-9-]+)/([a-z0-9-]+)(?::(\d+(?:\.\d+){0,2})|@sha256:[0-9a-f]{64})$`)

// knownFeature is what a Feature's own devcontainer-feature.json says, so a name, a major
// version or an option that does not exist fails here instead of in a Codespace.
type knownFeature struct {
	source  string // the public repository and folder that publishes it
	version string // its current version there
	options []string
}

// From github.com/devcontainers/features at 765e8eb (2026-07-14): src/go and src/node,
// devcontainer-feature.json ("id", "version", "options").
var knownFeatures = map[string]knownFeature{
	"ghcr.io/devcontainers/features/go": {
		source: "https://github.com/devcontainers/features/tree/main/src/go", version: "1.3.4",
		options: []string{"version", "golangciLintVersion"},
	},
	"ghcr.io/devcontainers/features/node": {
		source: "https://github.com/devcontainers/features/tree/main/src/node", version: "2.1.0",
		options: []string{"version", "nodeGypDependencies", "nvmInstallPath", "npmVersion", "pnpmVersion", "nvmVersion", "installYarnUsingApt"},
	},
}

type devcontainer struct {
	Image             string                    `json:"image"`
	Features          map[string]map[string]any `json:"features"`
	ContainerEnv      map[string]string         `json:"containerEnv"`
	PostCreateCommand string                    `json:"postCreateCommand"`
	ForwardPorts      []int                     `json:"forwardPorts"`
}

// checkFeature returns what is wrong with one "features" entry.
func checkFeature(ref string, opts map[string]any) []string {
	m := featureRef.FindStringSubmatch(ref)
	if m == nil {
		return []string{ref + ": not <registry>/<namespace>/<id>:<version> or @sha256:<digest> (pin a version)"}
	}
	id := m[1] + "/" + m[2]
	known, ok := knownFeatures[id]
	if !ok {
		return []string{ref + ": not a feature this test knows; add its source and options to knownFeatures"}
	}
	var problems []string
	if tag := m[3]; tag != "" && !strings.HasPrefix(known.version+".", tag+".") {
		problems = append(problems, ref+": version "+tag+" does not match the published "+known.version+" ("+known.source+")")
	}
	for k := range opts {
		if !slices.Contains(known.options, k) {
			problems = append(problems, ref+": no option "+k+" ("+known.source+")")
		}
	}
	return problems
}

// TestDevcontainer: .devcontainer/devcontainer.json is JSONC (comments, trailing commas),
// names only real, pinned features with real options, installs the run and test
// dependencies on create, and forwards the two services' ports.
func TestDevcontainer(t *testing.T) {
	root := repoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, ".devcontainer", "devcontainer.json"))
	if err != nil {
		t.Fatal(err)
	}
	std, err := hujson.Standardize(raw)
	if err != nil {
		t.Fatalf("devcontainer.json is not valid JSONC: %v", err)
	}
	var dc devcontainer
	dec := json.NewDecoder(strings.NewReader(string(std)))
	if err := dec.Decode(&dc); err != nil {
		t.Fatalf("devcontainer.json: %v", err)
	}
	if !regexp.MustCompile(`^mcr\.microsoft\.com/devcontainers/[a-z]+:[\w.-]+$`).MatchString(dc.Image) || strings.HasSuffix(dc.Image, ":latest") {
		t.Errorf("image %q: pin a devcontainers image tag", dc.Image)
	}
	if len(dc.Features) == 0 {
		t.Fatal("no features: Go and Node come from features")
	}
	for ref, opts := range dc.Features {
		for _, p := range checkFeature(ref, opts) {
			t.Error(p)
		}
	}
	// The versions the project builds and tests with: go.work's go line, Node 20.
	work, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(work)
	if goLine == nil || dc.Features["ghcr.io/devcontainers/features/go:1"]["version"] != string(goLine[1]) {
		t.Errorf("go feature version %v, want go.work's %s", dc.Features["ghcr.io/devcontainers/features/go:1"]["version"], goLine)
	}
	if v := dc.Features["ghcr.io/devcontainers/features/node:2"]["version"]; v != "20" {
		t.Errorf("node feature version %v, want 20", v)
	}
	if dc.ContainerEnv["GOTOOLCHAIN"] != "local" {
		t.Error("containerEnv must set GOTOOLCHAIN=local, as the Makefile does")
	}
	script := strings.TrimPrefix(strings.Fields(dc.PostCreateCommand + " x")[0], "./")
	if info, err := os.Stat(filepath.Join(root, script)); err != nil || info.Mode()&0o111 == 0 || script != "scripts/install-test-deps.sh" {
		t.Errorf("postCreateCommand %q: want the executable scripts/install-test-deps.sh", dc.PostCreateCommand)
	}
	for _, port := range []int{8080, 8090} {
		if !slices.Contains(dc.ForwardPorts, port) {
			t.Errorf("forwardPorts %v lacks %d", dc.ForwardPorts, port)
		}
	}
}

// TestDevcontainerFeatureCheckFires: unpinned, unknown, wrong-major and wrong-option
// references are each caught.
func TestDevcontainerFeatureCheckFires(t *testing.T) {
	for ref, opts := range map[string]map[string]any{
		"ghcr.io/devcontainers/features/node":      nil,
		"ghcr.io/devcontainers/features/node:1":    nil,
		"ghcr.io/devcontainers/features/nodejs:2":  nil,
		"ghcr.io/devcontainers/features/go:latest": nil,
		"ghcr.io/devcontainers/features/go:1":      {"goVersion": "1.26"},
	} {
		if p := checkFeature(ref, opts); len(p) == 0 {
			t.Errorf("%s %v: accepted", ref, opts)
		}
	}
	if p := checkFeature("ghcr.io/devcontainers/features/go:1.3", map[string]any{"version": "1.26.8"}); len(p) != 0 {
		t.Errorf("a good reference rejected: %v", p)
	}
}
