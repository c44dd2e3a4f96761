package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// maxTrackedSize is the largest file the repository may hold: anything bigger is a build
// output, a data dump or a vendored blob, and every clone pays for it forever.
const maxTrackedSize = 1 << 20

// Lock files are generated text that legitimately grows; they are exempt by name from
// the size limit (never from the binary check).
var lockFiles = map[string]bool{"go.sum": true, "go.work.sum": true, "package-lock.json": true}

// binaryKind names the executable format whose magic b starts with, or "NUL bytes" for
// any other file git itself would call binary (a NUL in the first 8000 bytes, as
// git's buffer_is_binary does), or "" for text.
func binaryKind(b []byte) string {
	magics := []struct {
		kind  string
		magic []byte
	}{
		{"ELF", []byte("\x7fELF")},
		{"PE", []byte("MZ")},
		{"Mach-O", []byte{0xfe, 0xed, 0xfa, 0xce}},
		{"Mach-O", []byte{0xfe, 0xed, 0xfa, 0xcf}},
		{"Mach-O", []byte{0xce, 0xfa, 0xed, 0xfe}},
		{"Mach-O", []byte{0xcf, 0xfa, 0xed, 0xfe}},
		{"Mach-O universal", []byte{0xca, 0xfe, 0xba, 0xbe}},
	}
	for _, m := range magics {
		if bytes.HasPrefix(b, m.magic) {
			return m.kind
		}
	}
	if bytes.IndexByte(b[:min(len(b), 8000)], 0) >= 0 {
		return "NUL bytes"
	}
	return ""
}

// gitFiles lists the tracked files, or skips when this is not a git checkout (a source
// archive has nothing tracked to check).
func gitFiles(t *testing.T, root string, args ...string) []string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	cmd := exec.Command("git", append([]string{"-C", root}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && strings.Contains(string(ee.Stderr), "not a git repository") {
			t.Skip("not a git checkout")
		}
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files
}

// TestTrackedFilesAreSourceNotBuildOutput fails on any tracked file that is an
// executable or other binary, or larger than 1 MiB, as frontend/frontend (19 MB ELF) and
// localazure.exe (17 MB PE) once were.
func TestTrackedFilesAreSourceNotBuildOutput(t *testing.T) {
	root := repoRoot(t)
	files := gitFiles(t, root, "ls-files", "-z")
	if len(files) < 10 {
		t.Fatalf("git ls-files listed %d files; the check would prove nothing", len(files))
	}
	for _, f := range files {
		info, err := os.Lstat(filepath.Join(root, f))
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		if !info.Mode().IsRegular() {
			continue
		}
		if info.Size() > maxTrackedSize && !lockFiles[path.Base(f)] {
			t.Errorf("%s: %d bytes, over the 1 MiB limit for tracked files", f, info.Size())
		}
		head, err := readHead(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if kind := binaryKind(head); kind != "" {
			t.Errorf("%s: binary (%s); build outputs and blobs do not belong in git", f, kind)
		}
	}
}

func readHead(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, 8000)
	n, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b[:n], nil
}

// TestBinaryKindRecognisesARealExecutable feeds the check the test binary itself, a real
// executable for this platform, so the magic table is proven on real output of `go build`.
func TestBinaryKindRecognisesARealExecutable(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	head, err := readHead(exe)
	if err != nil {
		t.Fatal(err)
	}
	if binaryKind(head) == "" {
		t.Fatalf("%s (%x...) not recognised as binary", exe, head[:8])
	}
	for _, text := range []string{"package main\n", "{\"lockfileVersion\": 3}\n", "# syntax=docker/dockerfile:1\n"} {
		if k := binaryKind([]byte(text)); k != "" {
			t.Errorf("%q classed as %s", text, k)
		}
	}
}

// TestGoBuildOutputsAreIgnored asks git itself (check-ignore) whether the binary that
// `go build` leaves in each main package's folder, named after the folder, would be
// ignored, for every main package in the repository, with and without .exe.
func TestGoBuildOutputsAreIgnored(t *testing.T) {
	root := repoRoot(t)
	mains := map[string]bool{}
	for _, f := range gitFiles(t, root, "ls-files", "-z", "--", "*.go") {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		if isMainPackage(t, filepath.Join(root, f)) {
			mains[path.Dir(f)] = true
		}
	}
	if len(mains) < 3 {
		t.Fatalf("found %d main packages; expected the frontend, backend and launcher at least", len(mains))
	}
	for dir := range mains {
		bin := path.Join(dir, path.Base(dir))
		if dir == "." {
			continue
		}
		for _, out := range []string{bin, bin + ".exe"} {
			cmd := exec.Command("git", "-C", root, "check-ignore", "-q", "--no-index", out)
			if err := cmd.Run(); err != nil {
				t.Errorf("%s: `go build` output not ignored by .gitignore (git check-ignore: %v)", out, err)
			}
		}
	}
}

func isMainPackage(t *testing.T, name string) bool {
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); strings.HasPrefix(line, "package ") {
			return line == "package main"
		}
	}
	return false
}
