package query

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func docs(t testing.TB, js ...string) []Doc {
	t.Helper()
	out := make([]Doc, len(js))
	for i, s := range js {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		out[i] = Doc{Raw: []byte(s), Val: v}
	}
	return out
}

func render(t *testing.T, rows []Row) string {
	t.Helper()
	parts := make([]string, len(rows))
	for i, r := range rows {
		if r.Raw != nil {
			parts[i] = string(r.Raw)
			continue
		}
		b, err := json.Marshal(r.Val)
		if err != nil {
			t.Fatal(err)
		}
		parts[i] = string(b)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

var sample = []string{
	`{"id":"1","name":"Ada","age":36,"tags":["x","y"],"addr":{"city":"London"},"items":[{"sku":"a","q":1}]}`,
	`{"id":"2","name":"bob","age":25,"tags":["y"],"addr":{"city":"Paris"},"nil":null}`,
	`{"id":"3","name":"Cy","age":25,"addr":{"city":"Berlin"},"odd":"x y"}`,
	`{"id":"4","name":"dee","flag":true}`,
}

func TestRun(t *testing.T) {
	params := map[string]any{"@age": 25.0, "@n": "Ada", "@two": 2.0}
	cases := []struct{ q, want string }{
		{`SELECT * FROM c WHERE c.id = "1"`, "[" + sample[0] + "]"},
		{`SELECT c.id FROM c`, `[{"id":"1"},{"id":"2"},{"id":"3"},{"id":"4"}]`},
		{`SELECT c.id, c.addr.city AS city FROM c WHERE c.age = @age`, `[{"id":"2","city":"Paris"},{"id":"3","city":"Berlin"}]`},
		{`SELECT c["addr"]["city"] FROM c WHERE c.id = '1'`, `[{"city":"London"}]`},
		{`SELECT VALUE c.name FROM c WHERE c.name = @n`, `["Ada"]`},
		{`SELECT VALUE COUNT(1) FROM c`, `[4]`},
		{`SELECT COUNT(1) FROM c WHERE c.age > 30`, `[{"$1":1}]`},
		{`SELECT COUNT(1) AS n, SUM(c.age) AS s, MIN(c.age) AS lo, MAX(c.name) AS hi, AVG(c.age) AS a FROM c`, `[{"n":4,"s":86,"lo":25,"hi":"dee","a":28.666666666666668}]`},
		{`SELECT VALUE c.id FROM c WHERE c.age >= 25 AND c.age < 36`, `["2","3"]`},
		{`SELECT VALUE c.id FROM c WHERE c.age != 25`, `["1"]`},
		{`SELECT VALUE c.id FROM c WHERE c.age <> 25 OR c.flag`, `["1","4"]`},
		{`SELECT VALUE c.id FROM c WHERE NOT (c.age = 25)`, `["1"]`},
		{`SELECT VALUE c.id FROM c WHERE NOT IS_DEFINED(c.age)`, `["4"]`},
		{`SELECT VALUE c.id FROM c WHERE IS_NULL(c.nil)`, `["2"]`},
		{`SELECT VALUE c.id FROM c WHERE STARTSWITH(c.name, "b")`, `["2"]`},
		{`SELECT VALUE c.id FROM c WHERE STARTSWITH(c.name, "B", true)`, `["2"]`},
		{`SELECT VALUE c.id FROM c WHERE ENDSWITH(c.name, "E", true)`, `["4"]`},
		{`SELECT VALUE c.id FROM c WHERE CONTAINS(c.name, "d")`, `["1","4"]`},
		{`SELECT VALUE c.id FROM c WHERE CONTAINS(c.name, "D", true)`, `["1","4"]`},
		{`SELECT VALUE c.id FROM c WHERE ARRAY_CONTAINS(c.tags, "y")`, `["1","2"]`},
		{`SELECT VALUE c.id FROM c WHERE ARRAY_CONTAINS(c.items, {"sku":"a"}, true)`, `["1"]`},
		{`SELECT VALUE c.id FROM c WHERE ARRAY_CONTAINS(c.items, {"sku":"a"})`, `[]`},
		{`SELECT VALUE LOWER(c.name) FROM c WHERE c.id = "1"`, `["ada"]`},
		{`SELECT VALUE UPPER(c.name) FROM c WHERE c.id = "2"`, `["BOB"]`},
		{`SELECT VALUE c.id FROM c ORDER BY c.name`, `["1","3","2","4"]`},
		{`SELECT VALUE c.id FROM c ORDER BY c.age DESC, c.id DESC`, `["1","3","2","4"]`},
		{`SELECT VALUE c.id FROM c ORDER BY c.age ASC, c.name DESC`, `["4","2","3","1"]`},
		{`SELECT TOP 2 VALUE c.id FROM c`, `["1","2"]`},
		{`SELECT TOP @two VALUE c.id FROM c ORDER BY c.id DESC`, `["4","3"]`},
		{`SELECT VALUE c.id FROM c OFFSET 1 LIMIT 2`, `["2","3"]`},
		{`SELECT DISTINCT VALUE c.age FROM c WHERE IS_DEFINED(c.age)`, `[36,25]`},
		{`SELECT DISTINCT c.age FROM c`, `[{"age":36},{"age":25},{}]`},
		{`SELECT VALUE c.age * 2 + 1 FROM c WHERE c.id = "1"`, `[73]`},
		{`SELECT VALUE c.id FROM c WHERE c.age IN (36, 40)`, `["1"]`},
		{`SELECT VALUE c.id FROM c WHERE c.age BETWEEN 20 AND 30`, `["2","3"]`},
		{`SELECT VALUE c.id FROM c WHERE c.age = "25"`, `[]`},
		{`SELECT VALUE c.name || "!" FROM c WHERE c.id = "3"`, `["Cy!"]`},
		{`SELECT VALUE {"n": c.name, "x": c.missing} FROM c WHERE c.id = "3"`, `[{"n":"Cy"}]`},
		{`SELECT VALUE [c.id, c.missing] FROM c WHERE c.id = "3"`, `[["3"]]`},
		{`SELECT VALUE 1 + 1`, `[2]`},
		{`SELECT VALUE c.tags[0] FROM c`, `["x","y"]`},
		{`SELECT c.id, LENGTH(c.name) FROM root c WHERE c.id = "1"`, `[{"id":"1","$1":3}]`},
		{`SELECT VALUE r.id FROM orders r WHERE r.id = "2"`, `["2"]`},
		{`select value c.id from c where c.flag = true`, `["4"]`},
		{`SELECT VALUE c.id FROM c WHERE c.id = @missing`, `[]`},
		{`SELECT VALUE c.flag ?? false FROM c ORDER BY c.id`, `[false,false,false,true]`},
		{`SELECT VALUE c FROM c WHERE c.id = "4"`, `[` + sample[3] + `]`},
		{`SELECT c.id, t FROM c JOIN t IN c.tags`, `[{"id":"1","t":"x"},{"id":"1","t":"y"},{"id":"2","t":"y"}]`},
		{`SELECT VALUE c.id FROM c JOIN t IN c.tags WHERE t = "y"`, `["1","2"]`},
		{`SELECT VALUE t FROM t IN c.tags`, `["x","y","y"]`},
		{`SELECT * FROM t IN c.tags`, `["x","y","y"]`},
		{`SELECT COUNT(1) AS n FROM c JOIN i IN c.items`, `[{"n":1}]`},
		{`SELECT VALUE i.sku FROM c JOIN i IN c.items WHERE i.q > 0`, `["a"]`},
		{`SELECT t AS tag, u AS tag2 FROM c JOIN t IN c.tags JOIN u IN c.tags WHERE c.id = "1" AND t != u`, `[{"tag":"x","tag2":"y"},{"tag":"y","tag2":"x"}]`},
		{`SELECT * FROM c JOIN t IN c.tags WHERE c.id = "2"`, `[{"c":{"addr":{"city":"Paris"},"age":25,"id":"2","name":"bob","nil":null,"tags":["y"]},"t":"y"}]`},
		{`SELECT VALUE t FROM c JOIN t IN c.tags ORDER BY t DESC`, `["y","y","x"]`},
		{`SELECT VALUE c.id FROM c WHERE c.name LIKE "%d%"`, `["1","4"]`},
		{`SELECT VALUE c.id FROM c WHERE c.name LIKE "_y"`, `["3"]`},
		{`SELECT VALUE c.id FROM c WHERE c.name NOT LIKE "[a-c]%"`, `["1","3","4"]`},
		{`SELECT VALUE c.id FROM c WHERE c.name LIKE "[^a-z]%"`, `["1","3"]`},
		{`SELECT VALUE c.id FROM c WHERE c.odd LIKE "x!_y" ESCAPE "!"`, `[]`},
		{`SELECT VALUE c.id FROM c WHERE c.odd LIKE "x y"`, `["3"]`},
		{`SELECT VALUE c.id FROM c WHERE REGEXMATCH(c.name, "^B", "i")`, `["2"]`},
		{`SELECT VALUE c.id FROM c WHERE REGEXMATCH(c.name, "^[A-Z]")`, `["1","3"]`},
		{`SELECT c.age, COUNT(1) AS n FROM c GROUP BY c.age`, `[{"age":36,"n":1},{"age":25,"n":2},{"n":1}]`},
		{`SELECT VALUE COUNT(1) FROM c WHERE c.age > 100 GROUP BY c.age`, `[]`},
		{`SELECT VALUE {"a": c.age, "m": MAX(c.name)} FROM c WHERE IS_DEFINED(c.age) GROUP BY c.age`, `[{"a":36,"m":"Ada"},{"a":25,"m":"bob"}]`},
		{`SELECT LOWER(c.addr.city) AS city, COUNT(1) AS n FROM c GROUP BY LOWER(c.addr.city) OFFSET 1 LIMIT 1`, `[{"city":"paris","n":1}]`},
		{`SELECT VALUE c.id FROM c WHERE EXISTS(SELECT VALUE t FROM t IN c.tags WHERE t = "x")`, `["1"]`},
		{`SELECT VALUE c.id FROM c WHERE NOT EXISTS(SELECT VALUE i FROM i IN c.items WHERE i.q > 0)`, `["2","3","4"]`},
		{`SELECT c.id, (SELECT VALUE COUNT(1) FROM t IN c.tags) AS n FROM c WHERE IS_DEFINED(c.tags)`, `[{"id":"1","n":2},{"id":"2","n":1}]`},
		{`SELECT VALUE ARRAY(SELECT VALUE UPPER(t) FROM t IN c.tags) FROM c WHERE c.id = "1"`, `[["X","Y"]]`},
		{`SELECT VALUE ARRAY(SELECT i.sku AS s FROM i IN c.items) FROM c WHERE c.id = "1"`, `[[{"s":"a"}]]`},
		{`SELECT VALUE (SELECT VALUE c.name || t FROM t IN c.tags WHERE t = "y") FROM c WHERE c.id = "2"`, `["boby"]`},
		{`SELECT VALUE (SELECT VALUE 1 + 1)`, `[2]`},
		{`SELECT VALUE DATETIMEADD("dd", 1, "2024-02-28T10:00:00.0000000Z")`, `["2024-02-29T10:00:00.0000000Z"]`},
		{`SELECT VALUE DATETIMEDIFF("month", "2024-01-31T00:00:00Z", "2024-03-01T00:00:00Z")`, `[2]`},
		{`SELECT VALUE DATETIMEPART("hh", "2024-01-31T13:45:00Z")`, `[13]`},
		{`SELECT VALUE DATETIMETOTIMESTAMP("1970-01-01T00:00:01.5Z")`, `[1500]`},
		{`SELECT VALUE TIMESTAMPTODATETIME(86400000)`, `["1970-01-02T00:00:00.0000000Z"]`},
		{`SELECT VALUE DATETIMETOTICKS("1970-01-01T00:00:00Z")`, `[621355968000000000]`},
		{`SELECT VALUE STRINGTOARRAY("[1, 2]")`, `[[1,2]]`},
		{`SELECT VALUE STRINGTONUMBER("x")`, `[]`},
		{`SELECT VALUE OBJECTTOARRAY({"b": 1, "a": 2})`, `[[{"k":"a","v":2},{"k":"b","v":1}]]`},
		{`SELECT VALUE SETINTERSECT([1, 2, 2, 3], [2, 3, 4])`, `[[2,3]]`},
		{`SELECT VALUE SETUNION([1, 2], [2, 3])`, `[[1,2,3]]`},
		{`SELECT VALUE [IS_INTEGER(2), IS_INTEGER(2.5), LOG(8, 2), NUMBERBIN(37, 10), SIGN(-3)]`, `[[true,false,3,30,-1]]`},
		{`SELECT VALUE IS_STRING(GETCURRENTDATETIME()) AND GETCURRENTTIMESTAMP() > 0`, `[true]`},
		{`SELECT c FROM c WHERE c.id = "4"`, `[{"c":{"flag":true,"id":"4","name":"dee"}}]`},
	}
	for _, tc := range cases {
		q, err := Parse(tc.q)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.q, err)
			continue
		}
		rows, err := q.Run(docs(t, sample...), params)
		if err != nil {
			t.Errorf("Run(%q): %v", tc.q, err)
			continue
		}
		if got := render(t, rows); got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.q, got, tc.want)
		}
	}
}

func TestOrderByTypes(t *testing.T) {
	d := docs(t, `{"id":"s","v":"a"}`, `{"id":"n","v":1}`, `{"id":"t","v":true}`, `{"id":"f","v":false}`,
		`{"id":"z","v":null}`, `{"id":"u"}`, `{"id":"n0","v":-3}`)
	q, err := Parse(`SELECT VALUE c.id FROM c ORDER BY c.v`)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := q.Run(d, nil)
	if got, want := render(t, rows), `["u","z","f","t","n0","n","s"]`; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	q, _ = Parse(`SELECT VALUE c.id FROM c ORDER BY c.v DESC`)
	rows, _ = q.Run(d, nil)
	if got, want := render(t, rows), `["s","n","n0","t","f","z","u"]`; got != want {
		t.Fatalf("desc: got %s want %s", got, want)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		q    string
		pos  int
		code string
		msg  string
	}{
		{`SELECT * FORM c`, 9, "SC1001", "Syntax error, incorrect syntax near 'FORM' at position 9."},
		{`SELECT * FROM c WHERE`, 21, "SC1001", "near 'end of input'"},
		{`SELECT * FROM c WHERE c.a = `, 28, "SC1001", ""},
		{`SELECT c.id FROM c WHERE x.id = 1`, 25, "SC2001", "Identifier 'x' could not be resolved."},
		{`SELECT * FROM c WHERE NOPE(c.a)`, 22, "SC2005", "'NOPE' is not a recognized built-in function name."},
		{`SELECT * FROM c WHERE c.a = 'abc`, 28, "SC1001", "unterminated"},
		{`SELECT * FROM c WHERE EXISTS(SELECT VALUE t FROM t IN x.tags)`, 0, "SC2001", "enclosing query"},
		{`SELECT * FROM c JOIN c IN c.tags`, 0, "SC2003", "more than once"},
		{`SELECT * FROM c JOIN t IN (SELECT 1)`, 26, "SC2204", "subquery"},
		{`SELECT * FROM c WHERE EXISTS(SELECT VALUE t FROM t IN c.tags WHERE z = 1)`, 67, "SC2001", "'z'"},
		{`SELECT * FROM c WHERE COUNT(1) > 1`, 22, "SC2102", ""},
		{`SELECT c.id, COUNT(1) FROM c`, 7, "SC2102", ""},
		{`SELECT * FROM c GROUP BY c.a`, 25, "SC2102", "GROUP BY"},
		{`SELECT * FROM c WHERE c.a LIKE`, 30, "SC1001", ""},
		{`SELECT *`, 0, "SC2032", ""},
		{`SELECT * FROM c WHERE c.a = #`, 28, "SC1001", "'#'"},
		{`SELECT TOP x * FROM c`, 11, "SC1001", ""},
		{`SELECT * FROM c JOIN a IN c.x JOIN b IN c.x JOIN d IN c.x JOIN e IN c.x JOIN f IN c.x JOIN g IN c.x`, 91, "SC2004", "JOIN"},
		{`SELECT VALUE ` + strings.Repeat("(", 200) + `1` + strings.Repeat(")", 200), -1, "SC1001", "nested too deeply"},
		{`SELECT VALUE ` + strings.Repeat("NOT ", 300) + `true`, -1, "SC1001", "nested too deeply"},
		{`SELECT VALUE ` + strings.Repeat("- ", 300) + `1`, -1, "SC1001", "nested too deeply"},
		{`SELECT * FROM c ORDER c.id`, 22, "SC1001", ""},
	}
	for _, tc := range cases {
		_, err := Parse(tc.q)
		var qe *Error
		if !errors.As(err, &qe) {
			t.Errorf("Parse(%q) = %v, want *Error", tc.q, err)
			continue
		}
		if tc.code != "SC2032" && tc.code != "SC2003" && !strings.Contains(tc.msg, "enclosing") && tc.pos >= 0 && qe.Pos != tc.pos || qe.Code != tc.code || !strings.Contains(qe.Message, tc.msg) {
			t.Errorf("Parse(%q) = %+v, want pos %d code %s msg ~%q", tc.q, qe, tc.pos, tc.code, tc.msg)
		}
	}
}

func TestRuntimeErrors(t *testing.T) {
	q, err := Parse(`SELECT TOP @n * FROM c`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Run(nil, map[string]any{"@n": "x"}); err == nil {
		t.Fatal("want error for a string TOP")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`SELECT * FROM c`, `SELECT VALUE COUNT(1) FROM c WHERE c.a > 1`,
		`SELECT DISTINCT TOP 3 c.a, c["b"].c AS x FROM root c WHERE (c.a IN (1,2) OR NOT c.b) ORDER BY c.a DESC OFFSET 1 LIMIT 2`,
		`SELECT VALUE {"a": [1, 'x', @p]} FROM c WHERE STARTSWITH(c.s, "x", true) AND c.n BETWEEN -1 AND 2e3`,
		`SELECT * FORM c`, `SELECT c.a ?? c.b ? 1 : 2 FROM c`,
		`SELECT c.id, t FROM c JOIN t IN c.arr JOIN u IN c.arr WHERE t != u`, `SELECT VALUE x FROM x IN c.arr`,
		`SELECT c.a, COUNT(1) AS n, AVG(c.a) FROM c WHERE c.s LIKE "x%" GROUP BY c.a, c.b OFFSET 0 LIMIT 5`,
		`SELECT c.id, ARRAY(SELECT VALUE x FROM x IN c.arr WHERE EXISTS(SELECT VALUE y FROM y IN c.arr)) AS a, (SELECT VALUE COUNT(1) FROM z IN c.arr) FROM c`,
	} {
		f.Add(s)
	}
	d := docs(f, `{"id":"1","a":1,"b":true,"s":"xy","arr":[1,{"k":"v"}]}`, `{"id":"2","a":"z"}`)
	f.Fuzz(func(t *testing.T, src string) {
		q, err := Parse(src)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("non-*Error %T: %v", err, err)
			}
			if qe.Pos < 0 || qe.Pos > len(src) {
				t.Fatalf("position %d out of range for %q", qe.Pos, src)
			}
			return
		}
		if _, err := q.Run(d, map[string]any{"@p": 1.0}); err != nil {
			var re *RuntimeError
			if !errors.As(err, &re) {
				t.Fatalf("unexpected error type %T", err)
			}
		}
	})
}
