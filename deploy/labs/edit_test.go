package labs

import (
	"encoding/json"
	"strings"
	"testing"
)

const sample = `{"W": [{"name": "a", "port": 1}, {"name": "b", "port": 2}],
 "R": [{"p": "a", "role": "Data Reader", "scope": "s/x"}, {"p": "a", "role": "Data Sender", "scope": "s/x"}],
 "Q": {"Props": {"Lock": "PT1M"}}}`

func TestEditJSON(t *testing.T) {
	out, err := editJSON([]byte(sample), "remove", "R[p=a,role=Data Sender,scope=s/x]", nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "Data Sender") || !strings.Contains(string(out), "Data Reader") {
		t.Fatalf("remove: %s", out)
	}
	out, err = editJSON(out, "set", "Q.Props.Lock", []byte(`"PT5S"`))
	if err != nil {
		t.Fatal(err)
	}
	out, err = editJSON(out, "merge", "W[name=b]", []byte(`"fc": [ { "subject": "x" } ]`))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		W []struct {
			Name string
			Port int
			FC   []struct{ Subject string } `json:"fc"`
		}
		Q struct{ Props struct{ Lock string } }
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	if v.Q.Props.Lock != "PT5S" || len(v.W) != 2 || v.W[1].Port != 2 || len(v.W[1].FC) != 1 || v.W[1].FC[0].Subject != "x" || v.W[0].FC != nil {
		t.Fatalf("edited: %+v", v)
	}
}

// TestEditJSONRefusesAmbiguity: a page that names an entry the file does not have
// (or has twice) fails rather than editing nothing or the wrong one.
func TestEditJSONRefusesAmbiguity(t *testing.T) {
	for _, c := range []struct{ op, path, value, want string }{
		{"remove", "R[p=a,role=Data Owner]", "", "matches no element"},
		{"remove", "R[p=a]", "", "more than one"},
		{"set", "Q.Props.Missing", `"x"`, "no such member"},
		{"set", "Q.Props.Lock", `not json`, "value"},
		{"merge", "W[name=a]", `"x": `, "members"},
		{"remove", "Q.Props", "", "not an array"},
	} {
		_, err := editJSON([]byte(sample), c.op, c.path, []byte(c.value))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v, want an error with %q", c.op, c.path, err, c.want)
		}
	}
}
