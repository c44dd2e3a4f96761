package cosmosemu

import (
	"encoding/json"
	"testing"
)

// The fast item scan must agree with a full decode whenever it answers.
func checkQuickItem(t *testing.T, body []byte) {
	c := &collection{paths: [][]string{{"pk"}}}
	id, key, ok := quickItem(c, body)
	if !ok {
		return
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("quickItem accepted invalid JSON %q", body)
	}
	wantID, isStr := m["id"].(string)
	if !isStr || wantID != id {
		t.Fatalf("%q: id %q, full decode %v", body, id, m["id"])
	}
	if want := pkKey(c.pkValues(m)); want != key {
		t.Fatalf("%q: key %s, full decode %s", body, key, want)
	}
}

func TestQuickItem(t *testing.T) {
	for _, b := range []string{
		`{"id":"1","pk":"a"}`, ` { "pk" : 3.5 , "id" : "x\"y" , "n":[1,{"a":"}"}]} `,
		`{"id":"1"}`, `{"id":"1","pk":null}`, `{"id":"1","pk":{}}`, `{"id":"1","pk":"a","pk":"b"}`,
		`{"id":"1","pk":"é<&>"}`, `{"id":2,"pk":"a"}`, `{"i\u0064":"1","pk":"a"}`, `[1]`,
		`{"id":"1","pk":"a","_etag":"x"}`, `{"id":"1","pk":true,"s":"\\\\"}`,
	} {
		checkQuickItem(t, []byte(b))
	}
	c := &collection{paths: [][]string{{"pk"}}}
	if _, _, ok := quickItem(c, []byte(`{"id":"1","pk":"a","ttl":5}`)); ok {
		t.Fatal("ttl must take the full decode")
	}
	if _, _, ok := quickItem(c, []byte(`{"id":"1","pk":"a","_rid":"x"}`)); ok {
		t.Fatal("system properties must take the full decode")
	}
}

func FuzzQuickItem(f *testing.F) {
	for _, s := range []string{`{"id":"1","pk":"a"}`, `{"pk":[1,"]"],"id":"\u00e9"}`, `{"a":{"b":[{"c":"}"}]},"id":"x","pk":-1e3}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkQuickItem(t, b) })
}
