package main

import (
	"reflect"
	"testing"
)

func TestSplitWords(t *testing.T) {
	cases := map[string][]string{
		"bin/backend":                 {"bin/backend"},
		"  go run ./backend  --v ":    {"go", "run", "./backend", "--v"},
		`sh -c 'echo $HOME; exit 0'`:  {"sh", "-c", "echo $HOME; exit 0"},
		`app --name "a \"b\" c" x\ y`: {"app", "--name", `a "b" c`, "x y"},
		`a''b ""`:                     {"ab", ""},
		`printf "%s\n" 'it'\''s'`:     {"printf", `%s\n`, "it's"},
	}
	for in, want := range cases {
		got, err := splitWords(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`a 'b`, `a "b`} {
		if _, err := splitWords(bad); err == nil {
			t.Errorf("splitWords(%q) accepted an unterminated quote", bad)
		}
	}
}

func TestExecFlag(t *testing.T) {
	var e execFlags
	if err := e.Set("backend=bin/backend --port 1"); err != nil || e[0].workload != "backend" || len(e[0].argv) != 3 {
		t.Fatalf("Set: %v %+v", err, e)
	}
	for _, bad := range []string{"bin/backend", "=x", "backend=", "backend=  "} {
		if err := e.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "AZURE_CLIENT_ID=stale", "HOME=/root"}, map[string]string{"AZURE_CLIENT_ID": "new"})
	want := map[string]bool{"PATH=/bin": true, "HOME=/root": true, "AZURE_CLIENT_ID=new": true}
	if len(got) != 3 {
		t.Fatalf("got %v", got)
	}
	for _, kv := range got {
		if !want[kv] {
			t.Fatalf("got %v", got)
		}
	}
}
