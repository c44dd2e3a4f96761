package deploy_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

// pinnedAction is how a step's `uses:` must name an action: a full release version or a
// commit, never a moving major tag or a branch.
var pinnedAction = regexp.MustCompile(`^[\w.-]+/[\w./-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})$`)

// lintWorkflow runs actionlint (the library behind the `actionlint` command, with
// shellcheck on the run: scripts when it is installed) on one workflow.
func lintWorkflow(t *testing.T, project *actionlint.Project, name string, content []byte) []string {
	t.Helper()
	opts := &actionlint.LinterOptions{}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = sc
	}
	l, err := actionlint.NewLinter(io.Discard, opts)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.Lint(name, content, project)
	if err != nil {
		t.Fatalf("actionlint on %s: %v", name, err)
	}
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	wf, _ := actionlint.Parse(content)
	if wf == nil {
		return out
	}
	for id, job := range wf.Jobs {
		for _, s := range job.Steps {
			if a, ok := s.Exec.(*actionlint.ExecAction); ok && !pinnedAction.MatchString(a.Uses.Value) {
				out = append(out, name+": job "+id+": uses "+a.Uses.Value+": pin a full version (vX.Y.Z) or a commit")
			}
		}
	}
	return out
}

// TestWorkflowsLint checks every workflow file with actionlint and the pinning rule.
func TestWorkflowsLint(t *testing.T) {
	root := repoRoot(t)
	project, err := actionlint.NewProject(root)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.y*ml"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		seen[filepath.Base(f)] = true
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range lintWorkflow(t, project, f, b) {
			t.Error(p)
		}
	}
	for _, want := range []string{"bicep.yml", "test.yml", "images.yml", "kind.yml"} {
		if !seen[want] {
			t.Errorf(".github/workflows/%s missing", want)
		}
	}
}

// TestWorkflowLintCatchesMistakes: the check is live, so a green TestWorkflowsLint means
// something.
func TestWorkflowLintCatchesMistakes(t *testing.T) {
	project, err := actionlint.NewProject(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte(`name: bad
on: push
jobs:
  a:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@main
      - run: echo "${{ matrix.nosuch }}"
`)
	got := strings.Join(lintWorkflow(t, project, "bad.yml", bad), "\n")
	for _, want := range []string{`property "nosuch" is not defined`, "pin a full version"} {
		if !strings.Contains(got, want) {
			t.Errorf("no problem mentioning %q in:\n%s", want, got)
		}
	}
}

// TestImageWorkflowIsMultiPlatformWithoutSecrets: both services, both platforms, a push
// from main only, and no secret: the registry and the OIDC identity are repository
// variables.
func TestImageWorkflowIsMultiPlatformWithoutSecrets(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), ".github", "workflows", "images.yml"))
	if err != nil {
		t.Fatal(err)
	}
	wf, errs := actionlint.Parse(b)
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	job := wf.Jobs["build"]
	if job == nil || job.Strategy == nil || job.Strategy.Matrix == nil {
		t.Fatal("images.yml: no build job with a matrix")
	}
	services := job.Strategy.Matrix.Rows["service"]
	if services == nil || len(services.Values) != 2 {
		t.Fatalf("images.yml: matrix.service %+v, want frontend and backend", services)
	}
	var platforms, push string
	for _, s := range job.Steps {
		if a, ok := s.Exec.(*actionlint.ExecAction); ok && strings.HasPrefix(a.Uses.Value, "docker/build-push-action@") {
			if in := a.Inputs["platforms"]; in != nil {
				platforms = in.Value.Value
			}
			if in := a.Inputs["push"]; in != nil {
				push = in.Value.Value
			}
		}
	}
	if platforms != "linux/amd64,linux/arm64" {
		t.Errorf("images.yml: platforms %q", platforms)
	}
	pushEnv := job.Env.Vars["push"]
	if push == "" || pushEnv == nil || !strings.Contains(pushEnv.Value.Value, "refs/heads/main") || !strings.Contains(pushEnv.Value.Value, "vars.REGISTRY") {
		t.Errorf("images.yml: push %q must depend on main and vars.REGISTRY", push)
	}
	if strings.Contains(string(b), "secrets.") {
		t.Error("images.yml uses a secret; the registry and the OIDC ids are repository variables")
	}
}
