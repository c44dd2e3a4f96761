package labs

import (
	"strings"
	"testing"
)

// TestParseAttachesMarkers: block markers go with the next block (indented in a list
// or not), step markers stand alone in order, an edit ... merge takes the json block
// after it, and text outside "## Lab" sections, multi-line comments and non-sh
// fences without markers are left alone.
func TestParseAttachesMarkers(t *testing.T) {
	page := "# Title\n\n<!--\n<!-- lab: expect \"ignored, inside a comment\" -->\n-->\n" +
		"```sh\necho outside\n```\n\n" +
		"## Lab 1: one\n\n" +
		"1. Run:\n\n   <!-- lab: background -->\n   <!-- lab: wait-for \"ready — open\" 30s -->\n   ```sh\n   make run\n     indented more\n   ```\n\n" +
		"<!-- lab: edit localazure.json merge 'LocalAzure.workloads[name=frontend]' -->\n```json\n\"a\": 1\n```\n\n" +
		"```\nan output sample\n```\n" +
		"<!-- lab: stop -->\n\n## Not a lab\n\n```sh\necho no\n```\n"
	labs, err := Parse(page)
	if err != nil {
		t.Fatal(err)
	}
	if len(labs) != 1 || labs[0].Name != "Lab 1: one" {
		t.Fatalf("labs: %+v", labs)
	}
	steps := labs[0].Steps
	if len(steps) != 3 {
		t.Fatalf("steps: %+v", steps)
	}
	b := steps[0].Block
	if b == nil || b.Code != "make run\n  indented more\n" || b.Line != 16 {
		t.Fatalf("block: %+v", b)
	}
	if len(b.Mods) != 2 || b.Mods[1].Kind != "wait-for" || b.Mods[1].Args[0] != "ready — open" || b.Mods[1].Args[1] != "30s" {
		t.Fatalf("mods: %+v", b.Mods)
	}
	if a := steps[1].Action; a == nil || a.Kind != "edit" || a.Args[2] != "LocalAzure.workloads[name=frontend]" || steps[1].Block.Code != "\"a\": 1\n" {
		t.Fatalf("edit: %+v %+v", steps[1].Action, steps[1].Block)
	}
	if a := steps[2].Action; a == nil || a.Kind != "stop" {
		t.Fatalf("stop: %+v", steps[2])
	}
}

// TestParseRefusesWhatWouldSilenceACheck: a typo in a marker, a block marker with no
// block, wrong arguments and markers on a block that is not run are errors naming
// the line.
func TestParseRefusesWhatWouldSilenceACheck(t *testing.T) {
	cases := map[string]string{
		"unknown kind":      "## Lab 1\n<!-- lab: expcet \"x\" -->\n```sh\ntrue\n```\n",
		"no block":          "## Lab 1\n<!-- lab: expect \"x\" -->\n## Lab 2\n",
		"no block at end":   "## Lab 1\n<!-- lab: expect \"x\" -->\n",
		"bad duration":      "## Lab 1\n<!-- lab: until soon -->\n```sh\ntrue\n```\n",
		"too many args":     "## Lab 1\n<!-- lab: expect a b -->\n```sh\ntrue\n```\n",
		"not an sh block":   "## Lab 1\n<!-- lab: expect \"x\" -->\n```json\n{}\n```\n",
		"wait-for fg":       "## Lab 1\n<!-- lab: wait-for \"x\" -->\n```sh\ntrue\n```\n",
		"until bg":          "## Lab 1\n<!-- lab: background -->\n<!-- lab: until 1s -->\n```sh\ntrue\n```\n",
		"outside a lab":     "<!-- lab: stop -->\n## Lab 1\n",
		"unterminated":      "## Lab 1\n<!-- lab: expect \"x -->\n```sh\ntrue\n```\n",
		"unknown edit":      "## Lab 1\n<!-- lab: edit f.json rename a -->\n",
		"unclosed fence":    "## Lab 1\n```sh\ntrue\n",
		"exit not a number": "## Lab 1\n<!-- lab: exit one -->\n```sh\ntrue\n```\n",
	}
	for name, page := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(page)
			if err == nil {
				t.Fatal("parsed")
			}
			if !strings.Contains(err.Error(), "line ") {
				t.Errorf("error names no line: %v", err)
			}
		})
	}
}
