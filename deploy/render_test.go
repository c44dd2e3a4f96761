package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// repoRoot is the work tree root, one level above this module.
func repoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

// object is one rendered manifest: its kind, name and JSON form.
type object struct {
	APIVersion, Kind, Namespace, Name string
	JSON                              []byte
}

func (o object) String() string { return o.Kind + "/" + o.Name }

var (
	renderOnce  sync.Map // overlay -> *renderResult
	stagedOnce  sync.Once
	stagedDir   string
	stagedError error
)

type renderResult struct {
	once sync.Once
	objs []object
	err  error
}

// stageTree copies deploy/ to a temporary directory and fills in the files deploy.sh
// renders (overlays/aks/aks.env from aks.env.example), so the build never depends on,
// or writes to, a developer's real aks.env.
func stageTree(t testing.TB) string {
	t.Helper()
	stagedOnce.Do(func() {
		dst, err := os.MkdirTemp("", "orderflow-deploy-")
		if err != nil {
			stagedError = err
			return
		}
		stagedDir = dst
		example, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "overlays", "aks", "aks.env.example"))
		if err != nil {
			stagedError = err
			return
		}
		stagedError = copyDeployTree(repoRoot(t), dst, example)
	})
	if stagedError != nil {
		t.Fatalf("staging deploy/: %v", stagedError)
	}
	return stagedDir
}

// copyDeployTree copies deploy/'s manifests to dst and writes aksEnv as the AKS
// overlay's aks.env.
func copyDeployTree(root, dst string, aksEnv []byte) error {
	src := filepath.Join(root, "deploy")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !strings.HasSuffix(p, ".yaml") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dst, "overlays", "aks", "aks.env"), aksEnv, 0o644)
}

// renderDir builds a kustomization directory on disk and returns its objects.
func renderDir(dir string) ([]object, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var objs []object
	for _, res := range m.Resources() {
		y, err := res.AsYAML()
		if err != nil {
			return nil, err
		}
		j, err := yaml.YAMLToJSON(y)
		if err != nil {
			return nil, err
		}
		objs = append(objs, object{
			APIVersion: res.GetApiVersion(), Kind: res.GetKind(),
			Namespace: res.GetNamespace(), Name: res.GetName(), JSON: j,
		})
	}
	return objs, nil
}

// render builds one kustomization (relative to deploy/) with the kustomize API, as
// `kubectl apply -k` would, and splits the output into objects.
func render(t testing.TB, dir string) []object {
	t.Helper()
	v, _ := renderOnce.LoadOrStore(dir, &renderResult{})
	r := v.(*renderResult)
	r.once.Do(func() {
		r.objs, r.err = renderDir(filepath.Join(stageTree(t), dir))
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.objs
}

// strictDecode decodes JSON into v, failing on fields v's type does not have: a typo
// in a manifest (or a field of a newer API) is an error, not a silent drop.
func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// overlays lists every overlay directory; each must build.
func overlays(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repoRoot(t), "deploy", "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, filepath.Join("overlays", e.Name()))
		}
	}
	if len(out) == 0 {
		t.Fatal("no overlays under deploy/overlays")
	}
	return out
}

func find(objs []object, kind, name string) (object, bool) {
	for _, o := range objs {
		if o.Kind == kind && o.Name == name {
			return o, true
		}
	}
	return object{}, false
}

func TestMain(m *testing.M) {
	code := m.Run()
	if stagedDir != "" {
		os.RemoveAll(stagedDir)
	}
	os.Exit(code)
}
