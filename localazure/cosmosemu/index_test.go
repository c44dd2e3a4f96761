package cosmosemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"

	"github.com/contoso/orderflow/localazure/cosmosemu/query"
)

// decodeCases are stored-item shapes the fast decoder must decode exactly as
// encoding/json does.
var decodeCases = []string{
	`{}`,
	`{"a":1,"b":"x","c":true,"d":false,"e":null,"f":[],"g":{},"h":[1,"2",[3],{"i":4}]}`,
	` { "a" : 1 , "b" : [ 1 , 2 ] , "c" : { "d" : "e" } } `,
	`{"a":"esc\"aped\\n\u00e9\ud83d\ude00","b\u0041":"key escape","c":"caf\u00e9"}`,
	`{"a":"café ü 日本","ü":"non-ASCII key"}`,
	"{\"a\":\"bad \xff utf8\",\"k\xfe\":1}",
	`{"n":-0,"m":1e300,"o":-1.5e-7,"p":123456789012345678901234567890,"q":0.1}`,
	`{"big":1e400,"after":"x"}`,
	`{"dup":1,"dup":2,"x":{"y":1,"y":[2]}}`,
	`{"id":"o1","customerId":"c1","lines":[{"sku":"a","qty":1}],"_rid":"r","_ts":17}`,
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, raw := range decodeCases {
		var want map[string]any
		_ = json.Unmarshal([]byte(raw), &want)
		if got := decodeDoc([]byte(raw)); !reflect.DeepEqual(got, want) {
			t.Errorf("decodeDoc(%q)\n got %#v\nwant %#v", raw, got, want)
		}
		for _, distinct := range []bool{false, true} {
			if bytes.Contains([]byte(raw), []byte(`"dup"`)) && distinct {
				continue // distinct is never claimed for such an item
			}
			for _, names := range [][]string{{"a"}, {"dup", "x"}, {"big"}, {"after"}, {"bA", "ü", "n", "p"}, {"missing"}, {"k\ufffd"}} {
				got := decodeProps([]byte(raw), names, distinct)
				for _, n := range names {
					wv, wok := want[n]
					gv, gok := got[n]
					if wok != gok || !reflect.DeepEqual(wv, gv) {
						t.Errorf("decodeProps(%q, %q)[%q] = %#v, %v; want %#v, %v", raw, names, n, gv, gok, wv, wok)
					}
				}
			}
		}
		m := map[string]any{}
		if got := decodeInto(m, []byte(raw), nil, true, false); !reflect.DeepEqual(got, want) {
			t.Errorf("decodeInto(all, %q)\n got %#v\nwant %#v", raw, got, want)
		}
	}
	if !topKeysDistinct([]byte(`{"a":1,"b":{"a":2}}`)) || topKeysDistinct([]byte(`{"a":1,"a":2}`)) {
		t.Error("topKeysDistinct")
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want map[string]any
		if err := json.Unmarshal(raw, &want); err != nil && want == nil || !json.Valid(raw) {
			return
		}
		if got := decodeDoc(raw); !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeDoc(%q)\n got %#v\nwant %#v", raw, got, want)
		}
		names := make([]string, 0, len(want))
		for k := range want {
			names = append(names, k)
		}
		got := decodeProps(raw, names, topKeysDistinct(raw))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeProps(%q)\n got %#v\nwant %#v", raw, got, want)
		}
	})
}

// indexServer holds items chosen to trip an index: ids repeated across
// partitions, partition key values of every type (0 and -0, numbers written
// differently, bools, null, missing), duplicate keys and escapes.
func indexServer(t *testing.T) *Server {
	t.Helper()
	s := quietServer(t, "")
	t.Cleanup(func() { _ = s.Close() })
	pks := []string{`"c1"`, `"c2"`, `"c\u00e9"`, `"<&>"`, `0`, `-0`, `1`, `1.0`, `2.5e1`, `true`, `false`, `null`, ``}
	n := 0
	for i, pk := range pks {
		for j := 0; j < 4; j++ {
			n++
			prop := ""
			if pk != "" {
				prop = `"customerId":` + pk + `,`
			}
			body := fmt.Sprintf(`{"id":"o%d",%s"status":"%s","total":%d,"tags":["t%d"],"nested":{"k":%d}}`,
				j, prop, []string{"paid", "new"}[j%2], i*10+j, j, i)
			if j == 3 {
				body = fmt.Sprintf(`{"id":"x%d",%s"status":"new","status":"paid","total":%d}`, i, prop, n) // a repeated key
			}
			hdr := `[` + pk + `]`
			if pk == "" {
				hdr = `[{}]`
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, signed("POST", "/dbs/orderflow/colls/orders/docs", []byte(body), hdr,
				map[string]string{"x-ms-documentdb-is-upsert": "True"})) // 1 and 1.0 are one partition
			if rec.Code >= 300 {
				t.Fatalf("create %s: %d %s", body, rec.Code, rec.Body)
			}
		}
	}
	return s
}

// reference evaluates the query the plain way: every item of the scope, fully
// decoded, in creation order.
func reference(t *testing.T, s *Server, text string, pk string, params map[string]any) []json.RawMessage {
	t.Helper()
	c, e := s.collection("orderflow", "orders")
	if e != nil {
		t.Fatal(e)
	}
	var docs []*document
	if pk == "" {
		docs = c.snapshot("", true)
	} else {
		k, _, _ := canonicalPKHeader(pk)
		docs = c.snapshot(k, false)
	}
	in := make([]query.Doc, len(docs))
	for i, d := range docs {
		var m map[string]any
		_ = json.Unmarshal(d.raw, &m)
		in[i] = query.Doc{Raw: d.raw, Val: m}
	}
	pq, err := query.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := pq.Run(in, params)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]json.RawMessage, len(rows))
	for i, r := range rows {
		if r.Raw != nil {
			out[i] = r.Raw
		} else {
			out[i], _ = json.Marshal(r.Val)
		}
	}
	return out
}

func TestIndexedQueriesMatchFullScan(t *testing.T) {
	s := indexServer(t)
	negZero := math.Copysign(0, -1)
	type tc struct {
		q      string
		params map[string]any
	}
	cases := []tc{
		{"SELECT * FROM c WHERE c.id = @id", map[string]any{"@id": "o1"}},
		{"SELECT * FROM c WHERE c.id = @id AND c.status = 'paid'", map[string]any{"@id": "o1"}},
		{"SELECT * FROM c WHERE c.status = 'new' AND @id = c.id", map[string]any{"@id": "o2"}},
		{"SELECT * FROM c WHERE c['id'] = 'x3'", nil},
		{"SELECT * FROM c WHERE c.id IN ('o0', 'x4', 'o0', 7)", nil},
		{"SELECT * FROM c WHERE c.id = @missing", nil},
		{"SELECT * FROM c WHERE c.id = 5", nil},
		{"SELECT * FROM c WHERE c.id = 'o1' OR c.total = 3", nil},
		{"SELECT * FROM c WHERE NOT (c.id = 'o1')", nil},
		{"SELECT * FROM c WHERE c.id != 'o1'", nil},
		{"SELECT * FROM c WHERE c.customerId = @pk", map[string]any{"@pk": "c1"}},
		{"SELECT * FROM c WHERE c.customerId = 'c\u00e9'", nil},
		{"SELECT * FROM c WHERE c.customerId = '<&>'", nil},
		{"SELECT * FROM c WHERE c.customerId = @pk", map[string]any{"@pk": 0.0}},
		{"SELECT * FROM c WHERE c.customerId = @pk", map[string]any{"@pk": negZero}},
		{"SELECT * FROM c WHERE c.customerId = 1", nil},
		{"SELECT * FROM c WHERE c.customerId = 25", nil},
		{"SELECT * FROM c WHERE c.customerId = true", nil},
		{"SELECT * FROM c WHERE c.customerId = null", nil},
		{"SELECT * FROM c WHERE c.customerId = @pk", map[string]any{"@pk": []any{"c1"}}},
		{"SELECT * FROM c WHERE c.customerId IN ('c1', 'c2', 1, false)", nil},
		{"SELECT * FROM c WHERE c.customerId = 'c1' AND c.id = 'o2'", nil},
		{"SELECT * FROM c WHERE c.customerId = 'c1' AND c.id = 'x0'", nil},
		{"SELECT * FROM c WHERE c.status = 'paid'", nil},
		{"SELECT * FROM c WHERE c.status = 'paid' AND c.total > 40 ORDER BY c.total DESC", nil},
		{"SELECT VALUE COUNT(1) FROM c WHERE c.customerId = 'c2'", nil},
		{"SELECT c.id, c.nested.k FROM c WHERE c.id = 'o2' ORDER BY c.customerId", nil},
		{"SELECT DISTINCT VALUE c.status FROM c", nil},
		{"SELECT DISTINCT * FROM c WHERE c.id = 'x1'", nil},
		{"SELECT c FROM c WHERE c.id = 'o0'", nil},
		{"SELECT * FROM c JOIN t IN c.tags WHERE c.id = 'o1' AND t = 't1'", nil},
		{"SELECT VALUE t FROM t IN c.tags WHERE t = 't2'", nil},
		{"SELECT * FROM c WHERE EXISTS(SELECT VALUE t FROM t IN c.tags WHERE t = 't0')", nil},
		{"SELECT * FROM c WHERE IS_DEFINED(c.customerId) = false", nil},
		{"SELECT c.status, COUNT(1) AS n FROM c GROUP BY c.status", nil},
		{"SELECT TOP 3 * FROM c WHERE c.id = 'o3' ORDER BY c._ts", nil},
		{"SELECT VALUE c._rid FROM c WHERE c.id = 'o1'", nil},
	}
	for _, tc := range cases {
		for _, pk := range []string{"", `["c1"]`, `[0]`} {
			var args []any
			for k, v := range tc.params {
				args = append(args, k, v)
			}
			got := runQuery(t, s, tc.q, pk, args...)
			var page struct{ Documents []json.RawMessage }
			if err := json.Unmarshal(got, &page); err != nil {
				t.Fatal(err)
			}
			want := reference(t, s, tc.q, pk, tc.params)
			if len(want) == 0 {
				want = nil
			}
			if len(page.Documents) == 0 {
				page.Documents = nil
			}
			if !reflect.DeepEqual(normalise(page.Documents), normalise(want)) {
				t.Errorf("%s %v (pk %s):\n got %s\nwant %s", tc.q, tc.params, pk, page.Documents, want)
			}
		}
	}
}

// normalise compacts rows so that the page's encoding and json.Marshal compare.
func normalise(rows []json.RawMessage) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		var b bytes.Buffer
		_ = json.Compact(&b, r)
		out[i] = b.String()
	}
	return out
}

// checkIDIndex verifies that the id index lists exactly the partitions whose map
// holds each id.
func checkIDIndex(t *testing.T, c *collection) {
	t.Helper()
	want := map[string][]*partition{}
	c.mu.RLock()
	for _, p := range c.parts {
		p.mu.RLock()
		for id, d := range p.docs {
			want[id] = append(want[id], p)
			if d.pk != p.key {
				t.Errorf("item %s: pk %s in partition %s", id, d.pk, p.key)
			}
		}
		p.mu.RUnlock()
	}
	c.mu.RUnlock()
	got := map[string][]*partition{}
	for i := range c.ids.shards {
		sh := &c.ids.shards[i]
		for id, p := range sh.one {
			got[id] = append(got[id], p)
		}
		for id, ps := range sh.dup {
			if len(ps) < 2 {
				t.Errorf("id %s: %d partitions in dup", id, len(ps))
			}
			got[id] = append(got[id], ps...)
		}
	}
	sortParts := func(m map[string][]*partition) {
		for _, ps := range m {
			slices.SortFunc(ps, func(a, b *partition) int {
				if a.key < b.key {
					return -1
				}
				if a.key > b.key {
					return 1
				}
				return 0
			})
		}
	}
	sortParts(want)
	sortParts(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("id index:\n got %v\nwant %v", got, want)
	}
}

func TestIDIndexFollowsWritesAndRestore(t *testing.T) {
	dir := t.TempDir()
	s := quietServer(t, dir)
	do := func(method, path string, body string, pk string, extra map[string]string) int {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, signed(method, path, []byte(body), pk, extra))
		return rec.Code
	}
	docs := "/dbs/orderflow/colls/orders/docs"
	for i := 0; i < 30; i++ {
		if code := do("POST", docs, fmt.Sprintf(`{"id":"o%d","customerId":"c%d"}`, i%10, i%3), fmt.Sprintf(`["c%d"]`, i%3),
			map[string]string{"x-ms-documentdb-is-upsert": "True"}); code >= 300 {
			t.Fatalf("upsert: %d", code)
		}
	}
	c, _ := s.collection("orderflow", "orders")
	checkIDIndex(t, c)
	if code := do("DELETE", docs+"/o1", "", `["c1"]`, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code := do("PUT", docs+"/o2", `{"id":"o2","customerId":"c2","v":2}`, `["c2"]`, nil); code != 200 {
		t.Fatalf("replace: %d", code)
	}
	if code := do("PATCH", docs+"/o3", `{"operations":[{"op":"set","path":"/v","value":3}]}`, `["c0"]`, nil); code != 200 {
		t.Fatalf("patch: %d", code)
	}
	batch := `[{"operationType":"Create","resourceBody":{"id":"b1","customerId":"c1"}},{"operationType":"Delete","id":"o4"},{"operationType":"Upsert","resourceBody":{"id":"o1","customerId":"c1"}}]`
	if code := do("POST", docs, batch, `["c1"]`, map[string]string{"x-ms-cosmos-is-batch-request": "True", "x-ms-cosmos-batch-atomic": "True"}); code != 200 {
		t.Fatalf("batch: %d", code)
	}
	checkIDIndex(t, c)
	for _, id := range []string{"o1", "o2", "o4", "b1"} {
		out := runQuery(t, s, "SELECT VALUE c.customerId FROM c WHERE c.id = @id", "", "@id", id)
		want := reference(t, s, "SELECT VALUE c.customerId FROM c WHERE c.id = @id", "", map[string]any{"@id": id})
		var page struct{ Documents []json.RawMessage }
		_ = json.Unmarshal(out, &page)
		if fmt.Sprint(normalise(page.Documents)) != fmt.Sprint(normalise(want)) {
			t.Errorf("id %s: got %s want %s", id, page.Documents, want)
		}
	}
	// Restart: the index is rebuilt from the snapshot and the journal.
	s.persist.j.close()
	r := quietServer(t, dir)
	defer r.Close()
	rc, _ := r.collection("orderflow", "orders")
	checkIDIndex(t, rc)
	if a, b := runQuery(t, s, "SELECT * FROM c WHERE c.id = 'o1'", ""), runQuery(t, r, "SELECT * FROM c WHERE c.id = 'o1'", ""); !bytes.Equal(a, b) {
		t.Errorf("after restore:\n%s\n%s", a, b)
	}
	for _, p := range rc.parts {
		for _, d := range p.docs {
			if cap(d.raw) != len(d.raw) {
				t.Errorf("restored item %s keeps %d spare bytes", d.id, cap(d.raw)-len(d.raw))
			}
		}
	}
}

func TestStoredItemHasNoSpareCapacity(t *testing.T) {
	s := quietServer(t, "")
	defer s.Close()
	for i, body := range []string{
		`{"id":"a","customerId":"c"}`,
		`{"id":"b","customerId":"c","_rid":"client","_ts":1}`,
		`{"id":"c","customerId":"c","ttl":60}  `,
		string(bytes.Replace(orderDoc(1, 1, "x"), []byte(`"c00000"`), []byte(`"c"`), 1)),
	} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, signed("POST", "/dbs/orderflow/colls/orders/docs", []byte(body), `["c"]`, nil))
		if rec.Code != 201 {
			t.Fatalf("%d: %d %s", i, rec.Code, rec.Body)
		}
	}
	c, _ := s.collection("orderflow", "orders")
	for _, p := range c.parts {
		for _, d := range p.docs {
			if cap(d.raw) != len(d.raw) || !json.Valid(d.raw) {
				t.Errorf("item %s: len %d cap %d valid %v", d.id, len(d.raw), cap(d.raw), json.Valid(d.raw))
			}
		}
	}
}

// TestIndexNarrowsTheScan checks, through the query metrics, that a query on the
// id or on the partition key reads only the matching items.
func TestIndexNarrowsTheScan(t *testing.T) {
	s := indexServer(t)
	for _, tc := range []struct {
		q    string
		want int
	}{
		{"SELECT * FROM c WHERE c.id = 'o1'", 12}, // o1 in each of the 12 partitions with an o1 (1 = 1.0)
		{"SELECT * FROM c WHERE c.id = 'x0' AND c.total > 0", 1},
		{"SELECT * FROM c WHERE c.customerId = 'c1'", 4},
		{"SELECT * FROM c WHERE c.customerId = 'c1' AND c.id = 'o0'", 1},
		{"SELECT * FROM c WHERE c.status = 'paid'", 4*13 - 3}, // a scan (1 and 1.0 share a partition and o0-o2)
	} {
		body, _ := json.Marshal(map[string]any{"query": tc.q})
		hdr := map[string]string{"x-ms-documentdb-populatequerymetrics": "True"}
		for k, v := range crossHeaders {
			hdr[k] = v
		}
		req := signed("POST", "/dbs/orderflow/colls/orders/docs", body, "", hdr)
		req.Header.Del("x-ms-documentdb-partitionkey")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		// The stand-in writes the gateway's lower-case header names straight into the
		// map (wireheaders_test.go), so the lookup is by that spelling, not Get's.
		m := fmt.Sprint(rec.Header()[hQueryMetrics]) //lint:ignore SA1008 lower case on purpose, as the gateway sends it

		if want := fmt.Sprintf("retrievedDocumentCount=%d;", tc.want); !bytes.Contains([]byte(m), []byte(want)) {
			t.Errorf("%s: metrics %s, want %s", tc.q, m, want)
		}
	}
}
