package shellwords

import (
	"reflect"
	"testing"
)

func TestSplit(t *testing.T) {
	cases := map[string][]string{
		"bin/backend":                 {"bin/backend"},
		"  go run ./backend  --v ":    {"go", "run", "./backend", "--v"},
		`sh -c 'echo $HOME; exit 0'`:  {"sh", "-c", "echo $HOME; exit 0"},
		`app --name "a \"b\" c" x\ y`: {"app", "--name", `a "b" c`, "x y"},
		`a''b ""`:                     {"ab", ""},
		`printf "%s\n" 'it'\''s'`:     {"printf", `%s\n`, "it's"},
		// The lab runner's markers: regexps keep their backslashes inside double quotes.
		` expect-re "failed orders\s+0\s"`: {"expect-re", `failed orders\s+0\s`},
	}
	for in, want := range cases {
		got, err := Split(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Split(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`a 'b`, `a "b`} {
		if _, err := Split(bad); err == nil {
			t.Errorf("Split(%q) accepted an unterminated quote", bad)
		}
	}
}
