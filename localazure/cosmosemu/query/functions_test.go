package query

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// functionCases holds at least one call of every registered function with the
// result Cosmos DB documents for it (see the system function pages under
// https://learn.microsoft.com/cosmos-db/nosql/query/); "[]" means Undefined (the
// row is dropped by SELECT VALUE).
var functionCases = []struct{ call, want string }{
	{`ABS(-4)`, `4`},
	{`ARRAY_CONCAT([1], [2, 3])`, `[1,2,3]`},
	{`ARRAY_CONTAINS([1, 2], 2)`, `true`},
	{`ARRAY_CONTAINS([{"a": 1, "b": 2}], {"a": 1}, true)`, `true`},
	{`ARRAY_CONTAINS([{"a": 1, "b": 2}], {"a": 1})`, `false`},
	{`ARRAY_LENGTH([1, 2, 3])`, `3`},
	{`ARRAY_SLICE([1, 2, 3, 4], 1, 2)`, `[2,3]`},
	{`ARRAY_SLICE([1, 2, 3], -2)`, `[2,3]`},
	{`CEILING(1.2)`, `2`},
	{`CONCAT("a", "b", "c")`, `"abc"`},
	{`CONTAINS("abc", "B", true)`, `true`},
	{`CONTAINS("abc", "B")`, `false`},
	{`COS(0)`, `1`},
	{`DATETIMEADD("dd", 1, "2020-01-31T00:00:00.0000000Z")`, `"2020-02-01T00:00:00.0000000Z"`},
	{`DATETIMEDIFF("hh", "2020-01-01T00:00:00.0000000Z", "2020-01-01T05:00:00.0000000Z")`, `5`},
	{`DATETIMEPART("mm", "2020-03-04T05:06:07.0000000Z")`, `3`},
	{`DATETIMETOTICKS("1970-01-01T00:00:00.0000000Z")`, `621355968000000000`},
	{`DATETIMETOTIMESTAMP("1970-01-01T00:00:01.0000000Z")`, `1000`},
	{`DEGREES(PI())`, `180`},
	{`ENDSWITH("abc", "bc")`, `true`},
	{`EXP(0)`, `1`},
	{`FLOOR(-1.5)`, `-2`},
	{`IS_STRING(GETCURRENTDATETIME())`, `true`},
	{`GETCURRENTTICKS() > 621355968000000000`, `true`},
	{`GETCURRENTTIMESTAMP() > 1700000000000`, `true`},
	{`IIF(true, "y", "n")`, `"y"`},
	{`IIF("not a boolean", 1, 2)`, `2`},
	{`INDEX_OF("abc", "c")`, `2`},
	{`INDEX_OF("abc", "z")`, `-1`},
	{`IS_ARRAY([])`, `true`},
	{`IS_BOOL(false)`, `true`},
	{`IS_DEFINED(1)`, `true`},
	{`IS_FINITE_NUMBER(1.5)`, `true`},
	{`IS_INTEGER(2)`, `true`},
	{`IS_INTEGER(2.5)`, `false`},
	{`IS_NULL(null)`, `true`},
	{`IS_NUMBER("1")`, `false`},
	{`IS_OBJECT({})`, `true`},
	{`IS_PRIMITIVE("a")`, `true`},
	{`IS_PRIMITIVE([])`, `false`},
	{`IS_STRING("a")`, `true`},
	{`LEFT("abc", 2)`, `"ab"`},
	{`LENGTH("héllo")`, `5`},
	{`LOG(8, 2)`, `3`},
	{`LOG(-1)`, `[]`},
	{`LOG10(100)`, `2`},
	{`LOWER("AbC")`, `"abc"`},
	{`LTRIM("  a ")`, `"a "`},
	{`NUMBERBIN(37, 10)`, `30`},
	{`OBJECTTOARRAY({"a": 1})`, `[{"k":"a","v":1}]`},
	{`PI()`, `3.141592653589793`},
	{`POWER(2, 10)`, `1024`},
	{`RADIANS(180)`, `3.141592653589793`},
	{`REGEXMATCH("abc", "^a.c$")`, `true`},
	{`REGEXMATCH("ABC", "b", "i")`, `true`},
	{`REPLACE("a-b-c", "-", "+")`, `"a+b+c"`},
	{`REVERSE("abc")`, `"cba"`},
	{`RIGHT("abc", 2)`, `"bc"`},
	{`ROUND(2.5)`, `3`},
	{`ROUND(-2.5)`, `-3`},
	{`RTRIM(" a  ")`, `" a"`},
	{`SETINTERSECT([1, 2, 3], [2, 3, 4])`, `[2,3]`},
	{`SETUNION([1, 2], [2, 3])`, `[1,2,3]`},
	{`SIGN(-3)`, `-1`},
	{`SIN(0)`, `0`},
	{`SQRT(9)`, `3`},
	{`STARTSWITH("abc", "A", true)`, `true`},
	{`STRINGEQUALS("abc", "ABC", true)`, `true`},
	{`STRINGEQUALS("abc", "ABC")`, `false`},
	{`STRINGTOARRAY("[1, 2]")`, `[1,2]`},
	{`STRINGTOBOOLEAN("true")`, `true`},
	{`STRINGTONULL("null")`, `null`},
	{`STRINGTONUMBER("1.5")`, `1.5`},
	{`STRINGTONUMBER("x")`, `[]`},
	{`STRINGTOOBJECT('{"a": 1}')`, `{"a":1}`},
	{`SUBSTRING("abcdef", 1, 3)`, `"bcd"`},
	{`TAN(0)`, `0`},
	{`TICKSTODATETIME(621355968000000000)`, `"1970-01-01T00:00:00.0000000Z"`},
	{`TIMESTAMPTODATETIME(0)`, `"1970-01-01T00:00:00.0000000Z"`},
	{`TOSTRING(1.5)`, `"1.5"`},
	{`TOSTRING(true)`, `"true"`},
	{`TRIM("  a  ")`, `"a"`},
	{`TRUNC(-1.7)`, `-1`},
	{`UPPER("abc")`, `"ABC"`},
}

var calledName = regexp.MustCompile(`([A-Z][A-Z_0-9]*)\(`)

func TestEveryFunction(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range functionCases {
		for _, m := range calledName.FindAllStringSubmatch(c.call, -1) {
			covered[m[1]] = true
		}
		q, err := Parse("SELECT VALUE " + c.call)
		if err != nil {
			t.Errorf("%s: %v", c.call, err)
			continue
		}
		rows, err := q.Run(docs(t, `{}`), nil)
		if err != nil {
			t.Errorf("%s: %v", c.call, err)
			continue
		}
		want := c.want
		if want != "[]" {
			want = "[" + want + "]"
		}
		if got := render(t, rows); got != want {
			t.Errorf("%s = %s, want %s", c.call, got, want)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(functions)) {
		if !covered[name] {
			t.Errorf("%s has no case in functionCases", name)
		}
	}
}

// TestDocsListEveryFunction keeps localazure/README.md's function list equal to the
// registry: every name in backticks in its "Functions:" item, and no other.
func TestDocsListEveryFunction(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "\n- Functions: ")
	if start < 0 {
		t.Fatal(`localazure/README.md has no "- Functions:" item`)
	}
	item := doc[start+1:]
	if end := strings.Index(item, "\n- "); end >= 0 {
		item = item[:end]
	}
	listed := map[string]bool{}
	for _, span := range regexp.MustCompile("`([^`]*)`").FindAllStringSubmatch(item, -1) {
		for _, w := range strings.Fields(span[1]) {
			if regexp.MustCompile(`^[A-Z][A-Z_0-9]+$`).MatchString(w) {
				listed[w] = true
			}
		}
	}
	for name := range functions {
		if !listed[name] {
			t.Errorf("%s is registered but localazure/README.md does not list it", name)
		}
	}
	for name := range listed {
		if _, ok := functions[name]; !ok {
			t.Errorf("localazure/README.md lists %s, which is not registered", name)
		}
	}
}
