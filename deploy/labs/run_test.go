package labs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeWorkshop is a workshop of a repository with only the copied files, so the
// runner's own behaviour is tested without the stack.
func fakeWorkshop(t *testing.T) *Workshop {
	t.Helper()
	repo := t.TempDir()
	for _, name := range []string{"go.work", "go.work.sum"} {
		if err := os.WriteFile(filepath.Join(repo, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "localazure.json"), []byte(`{"R": [{"p": "a"}, {"p": "b"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ws, err := NewWorkshop(t.TempDir(), repo, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func runPage(t *testing.T, ws *Workshop, page string) error {
	t.Helper()
	labs, err := Parse(page)
	if err != nil {
		t.Fatal(err)
	}
	if len(labs) != 1 {
		t.Fatalf("%d labs", len(labs))
	}
	return Run(context.Background(), labs[0], Options{
		Workshop: ws, Env: os.Environ(), Page: "page.md", Log: func(s string) { t.Log(s) },
		Offset: func() (int, bool) { return 100, true },
	})
}

// A launcher stand-in: announces the page on 8080 moved by the offset, as
// `localazure up` does, and runs until Ctrl-C.
const fakeUp = "<!-- lab: background -->\n<!-- lab: wait-for \"ready — open\" 10s -->\n<!-- lab: expect \"bye\" -->\n" +
	"```sh\ntrap 'echo bye; exit 0' INT\necho \"ready — open http://127.0.0.1:$((8080 + LOCALAZURE_PORT_OFFSET))/\"\nwhile true; do sleep 0.1; done\n```\n"

// TestRunPassesALab: the ready line sets APP, a vars block is checked against it,
// variables carry from block to block, until retries, exit checks the status, replace
// changes the command, and stop is Ctrl-C with the background's expectations.
func TestRunPassesALab(t *testing.T) {
	ws := fakeWorkshop(t)
	page := "## Lab 1: fake\n\n" + fakeUp +
		"<!-- lab: vars -->\n```sh\nAPP=http://127.0.0.1:8080\n```\n" +
		"```sh\nx=42\nn=0\n```\n" +
		"<!-- lab: expect \"x=42 app=http://127.0.0.1:8180 offset=100\" -->\n```sh\necho \"x=$x app=$APP offset=$LOCALAZURE_PORT_OFFSET\"\n```\n" +
		"<!-- lab: until 10s -->\n```sh\necho . >> tries; test \"$(wc -l < tries)\" -ge 3\n```\n" +
		"<!-- lab: exit 3 -->\n<!-- lab: reject \"never\" -->\n```sh\necho sometimes; exit 3\n```\n" +
		"<!-- lab: replace \"-duration 30s\" \"-duration 1s\" -->\n<!-- lab: expect \"-duration 1s\" -->\n```sh\necho -duration 30s\n```\n" +
		"<!-- lab: edit localazure.json remove R[p=a] -->\n" +
		"<!-- lab: reject \"\\\"a\\\"\" -->\n```sh\ncat localazure.json\n```\n" +
		"<!-- lab: restore localazure.json -->\n" +
		"<!-- lab: expect \"\\\"a\\\"\" -->\n```sh\ncat localazure.json\n```\n" +
		"<!-- lab: stop -->\n"
	if err := runPage(t, ws, page); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(ws.Repo, "localazure.json")); !strings.Contains(string(got), `"p": "a"`) {
		t.Fatalf("the repository's file changed: %s", got)
	}
}

// TestRunFailureSaysWhatWasNotMet: a failure names the lab, the line, the block, its
// output and the expectation.
func TestRunFailureSaysWhatWasNotMet(t *testing.T) {
	cases := map[string]struct{ page, want string }{
		"expect": {"<!-- lab: expect \"Signature verified\" -->\n```sh\necho unsigned\n```\n",
			`expect "Signature verified": not in the output`},
		"exit": {"```sh\necho before; false\necho after\n```\n", "exit status 1, want 0"},
		"until": {"<!-- lab: until 2s -->\n<!-- lab: expect \"Completed\" -->\n```sh\necho Pending\n```\n",
			"still not after"},
		"vars": {fakeUp + "<!-- lab: vars -->\n```sh\nAPP=http://127.0.0.1:9090\n```\n",
			"the page says http://127.0.0.1:9090"},
		"replace": {"<!-- lab: replace \"-duration 30s\" \"-duration 1s\" -->\n```sh\necho -duration 20s\n```\n",
			"occurs 0 times"},
		"background expect": {strings.Replace(fakeUp, `expect "bye"`, `expect "goodbye"`, 1) + "<!-- lab: stop -->\n",
			`expect "goodbye"`},
		"background exits": {"<!-- lab: background -->\n<!-- lab: wait-for \"ready\" -->\n```sh\necho starting; exit 1\n```\n",
			"exited (status 1) first"},
		"edit outside the copies": {"<!-- lab: edit go.mod remove R[p=a] -->\n", "not a file the workshop copies"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := runPage(t, fakeWorkshop(t), "## Lab 9: broken\n\n"+c.page)
			var f *Failure
			if !errors.As(err, &f) {
				t.Fatalf("want a *Failure, got %v", err)
			}
			msg := err.Error()
			for _, want := range []string{"Lab 9: broken", "page.md:", c.want} {
				if !strings.Contains(msg, want) {
					t.Errorf("failure lacks %q:\n%s", want, msg)
				}
			}
			if name == "expect" && (!strings.Contains(msg, "--- block\necho unsigned") || !strings.Contains(msg, "--- output\nunsigned")) {
				t.Errorf("failure lacks the block or its output:\n%s", msg)
			}
		})
	}
}

// TestRunRetriesTakenPorts: a launcher that finds its ports taken is started again on
// another offset, and APP follows the one that worked.
func TestRunRetriesTakenPorts(t *testing.T) {
	ws := fakeWorkshop(t)
	labs, err := Parse("## Lab 1: ports\n\n<!-- lab: background -->\n<!-- lab: wait-for \"ready — open\" 10s -->\n```sh\n" +
		"if [[ $LOCALAZURE_PORT_OFFSET == 100 ]]; then echo 'localazure: cannot start, ports are taken:'; exit 1; fi\n" +
		"echo \"ready — open http://127.0.0.1:$((8080 + LOCALAZURE_PORT_OFFSET))/\"; sleep 30\n```\n" +
		"<!-- lab: expect \"APP=http://127.0.0.1:8280\" -->\n```sh\necho APP=$APP\n```\n<!-- lab: stop -->\n")
	if err != nil {
		t.Fatal(err)
	}
	offsets := []int{100, 200}
	err = Run(context.Background(), labs[0], Options{
		Workshop: ws, Env: os.Environ(), Page: "page.md", Log: func(s string) { t.Log(s) },
		Offset: func() (int, bool) { o := offsets[0]; offsets = offsets[1:]; return o, true },
	})
	if err != nil {
		t.Fatal(err)
	}
}
