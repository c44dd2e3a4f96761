package deploy_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// outsideRefs are the shapes of a pointer out of the repository: an absolute path on
// a developer's or build machine, or notes that live next to the checkout rather than
// in it. A reader who clones the repository has none of them, so a comment citing one
// cites nothing; cite the public source (docs page, upstream file or issue) instead.
var outsideRefs = []*regexp.Regexp{
	regexp.MustCompile(`(^|[^\w.])/work/`),
	regexp.MustCompile(`(^|[^\w.])/Users/\w`),
	regexp.MustCompile(`(^|[^\w.])/home/\w+/`),
	regexp.MustCompile(`(?i)\b[a-z]:\\Users\\`),
	regexp.MustCompile(`shared/notes`),
	regexp.MustCompile(`\b(bicep|azure-wire)-facts\b`),
}

func TestNothingPointsOutsideTheRepository(t *testing.T) {
	root := repoRoot(t)
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("git ls-files: %v (not a git checkout)", err)
	}
	self := filepath.Join("deploy", "outside_refs_test.go")
	checked := 0
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if name == self || strings.HasSuffix(name, "package-lock.json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil || bytes.IndexByte(b, 0) >= 0 {
			continue // deleted in the work tree, or binary (another test forbids those)
		}
		checked++
		for i, line := range strings.Split(string(b), "\n") {
			for _, re := range outsideRefs {
				if re.MatchString(line) {
					t.Errorf("%s:%d points outside the repository (%s): %s", name, i+1, re, strings.TrimSpace(line))
				}
			}
		}
	}
	if checked < 100 {
		t.Fatalf("checked only %d tracked files; is the work tree complete?", checked)
	}
}
