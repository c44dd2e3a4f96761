package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The Makefile and scripts set GOTOOLCHAIN=local, so a Go older than the highest `go`
// line of go.work and the modules refuses to build instead of fetching a toolchain.
// The README must name that exact version, or readers with an older Go patch release
// fail at their first `make run`.
func TestReadmeNamesTheRequiredGoVersion(t *testing.T) {
	root := repoRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "*", "go.mod"))
	files = append(files, filepath.Join(root, "go.work"))
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+(\.\d+)?)\s*$`)
	highest := ""
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := goLine.FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s has no go line", f)
		}
		if v := string(m[1]); highest == "" || newerGo(v, highest) {
			highest = v
		}
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "needs Go "+highest+" or newer") {
		t.Errorf("README.md must say \"needs Go %s or newer\" (the highest go line); GOTOOLCHAIN=local refuses older releases", highest)
	}
}

// newerGo reports whether Go version a (1.26 or 1.26.8) is newer than b.
func newerGo(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for len(pa) < 3 {
		pa = append(pa, "0")
	}
	for len(pb) < 3 {
		pb = append(pb, "0")
	}
	for i := range 3 {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x > y
		}
	}
	return false
}
