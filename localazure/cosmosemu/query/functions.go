package query

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// aggregates are the aggregate functions (allowed only in the SELECT list).
var aggregates = map[string]bool{"COUNT": true, "SUM": true, "AVG": true, "MIN": true, "MAX": true}

// builtin is a scalar function with its arity (max -1: variadic).
type builtin struct {
	min, max int
	fn       func(args []any) any
}

// functions is the one registry of built-in scalar functions, by upper-case name:
// the tables below merged at package initialisation, a name in two of them being
// a programming error caught there. Each function returns Undefined for arguments
// of the wrong type, as Cosmos does. localazure/README.md lists exactly these
// (TestDocsListEveryFunction).
var functions = registry(scalarFunctions, dateTimeFunctions)

func registry(tables ...map[string]builtin) map[string]builtin {
	all := map[string]builtin{}
	for _, t := range tables {
		for name, b := range t {
			if _, dup := all[name]; dup {
				panic("cosmos/query: function " + name + " is registered twice")
			}
			all[name] = b
		}
	}
	return all
}

// scalarFunctions are the type checks, string, array and math functions.
var scalarFunctions = map[string]builtin{
	"IS_DEFINED":   {1, 1, func(a []any) any { return !IsUndefined(a[0]) }},
	"IS_NULL":      {1, 1, func(a []any) any { return a[0] == nil }},
	"IS_BOOL":      {1, 1, func(a []any) any { _, ok := a[0].(bool); return ok }},
	"IS_NUMBER":    {1, 1, func(a []any) any { _, ok := a[0].(float64); return ok }},
	"IS_STRING":    {1, 1, func(a []any) any { _, ok := a[0].(string); return ok }},
	"IS_ARRAY":     {1, 1, func(a []any) any { _, ok := a[0].([]any); return ok }},
	"IS_OBJECT":    {1, 1, func(a []any) any { _, ok := a[0].(map[string]any); return ok }},
	"IS_PRIMITIVE": {1, 1, func(a []any) any { r := typeRank(a[0]); return r >= 1 && r <= 5 }},
	"STARTSWITH":   {2, 3, strPred(strings.HasPrefix)},
	"ENDSWITH":     {2, 3, strPred(strings.HasSuffix)},
	"CONTAINS":     {2, 3, strPred(strings.Contains)},
	"STRINGEQUALS": {2, 3, strPred(func(a, b string) bool { return a == b })},
	"LOWER":        {1, 1, strFn(strings.ToLower)},
	"UPPER":        {1, 1, strFn(strings.ToUpper)},
	"TRIM":         {1, 1, strFn(strings.TrimSpace)},
	"LTRIM":        {1, 1, strFn(func(s string) string { return strings.TrimLeft(s, " \t\n\r") })},
	"RTRIM":        {1, 1, strFn(func(s string) string { return strings.TrimRight(s, " \t\n\r") })},
	"REVERSE": {1, 1, strFn(func(s string) string {
		r := []rune(s)
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r)
	})},
	"LENGTH": {1, 1, func(a []any) any {
		if s, ok := a[0].(string); ok {
			return float64(utf8.RuneCountInString(s))
		}
		return Undefined
	}},
	"CONCAT": {2, -1, func(a []any) any {
		var b strings.Builder
		for _, v := range a {
			s, ok := v.(string)
			if !ok {
				return Undefined
			}
			b.WriteString(s)
		}
		return b.String()
	}},
	"SUBSTRING": {3, 3, func(a []any) any {
		s, ok := a[0].(string)
		st, ok1 := a[1].(float64)
		n, ok2 := a[2].(float64)
		if !ok || !ok1 || !ok2 {
			return Undefined
		}
		r := []rune(s)
		i0 := clamp(int(st), 0, len(r))
		i1 := clamp(i0+int(n), i0, len(r))
		return string(r[i0:i1])
	}},
	"LEFT": {2, 2, func(a []any) any {
		s, ok := a[0].(string)
		n, ok1 := a[1].(float64)
		if !ok || !ok1 {
			return Undefined
		}
		r := []rune(s)
		return string(r[:clamp(int(n), 0, len(r))])
	}},
	"RIGHT": {2, 2, func(a []any) any {
		s, ok := a[0].(string)
		n, ok1 := a[1].(float64)
		if !ok || !ok1 {
			return Undefined
		}
		r := []rune(s)
		return string(r[len(r)-clamp(int(n), 0, len(r)):])
	}},
	"INDEX_OF": {2, 3, func(a []any) any {
		s, ok := a[0].(string)
		sub, ok1 := a[1].(string)
		if !ok || !ok1 {
			return Undefined
		}
		r := []rune(s)
		start := 0
		if len(a) == 3 {
			f, ok := a[2].(float64)
			if !ok {
				return Undefined
			}
			start = clamp(int(f), 0, len(r))
		}
		i := strings.Index(string(r[start:]), sub)
		if i < 0 {
			return float64(-1)
		}
		return float64(start + utf8.RuneCountInString(string(r[start:])[:i]))
	}},
	"REPLACE": {3, 3, func(a []any) any {
		s, ok := a[0].(string)
		o, ok1 := a[1].(string)
		n, ok2 := a[2].(string)
		if !ok || !ok1 || !ok2 {
			return Undefined
		}
		return strings.ReplaceAll(s, o, n)
	}},
	"TOSTRING": {1, 1, func(a []any) any {
		switch v := a[0].(type) {
		case undefinedType:
			return Undefined
		case string:
			return v
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		b, err := json.Marshal(a[0])
		if err != nil {
			return Undefined
		}
		return string(b)
	}},
	"ARRAY_CONTAINS": {2, 3, func(a []any) any {
		arr, ok := a[0].([]any)
		if !ok {
			return Undefined
		}
		partial := false
		if len(a) == 3 {
			b, ok := a[2].(bool)
			if !ok {
				return Undefined
			}
			partial = b
		}
		for _, el := range arr {
			if partial {
				if contains(el, a[1]) {
					return true
				}
			} else if deepEqual(el, a[1]) {
				return true
			}
		}
		return false
	}},
	"ARRAY_LENGTH": {1, 1, func(a []any) any {
		if arr, ok := a[0].([]any); ok {
			return float64(len(arr))
		}
		return Undefined
	}},
	"ARRAY_CONCAT": {2, -1, func(a []any) any {
		var out []any
		for _, v := range a {
			arr, ok := v.([]any)
			if !ok {
				return Undefined
			}
			out = append(out, arr...)
		}
		if out == nil {
			out = []any{}
		}
		return out
	}},
	"ARRAY_SLICE": {2, 3, func(a []any) any {
		arr, ok := a[0].([]any)
		st, ok1 := a[1].(float64)
		if !ok || !ok1 {
			return Undefined
		}
		i0 := int(st)
		if i0 < 0 {
			i0 += len(arr)
		}
		i0 = clamp(i0, 0, len(arr))
		i1 := len(arr)
		if len(a) == 3 {
			n, ok := a[2].(float64)
			if !ok {
				return Undefined
			}
			i1 = clamp(i0+int(n), i0, len(arr))
		}
		return append([]any{}, arr[i0:i1]...)
	}},
	"ABS":     {1, 1, numFn(math.Abs)},
	"CEILING": {1, 1, numFn(math.Ceil)},
	"FLOOR":   {1, 1, numFn(math.Floor)},
	"ROUND":   {1, 1, numFn(func(f float64) float64 { return math.Round(f) })},
	"TRUNC":   {1, 1, numFn(math.Trunc)},
	"SQRT":    {1, 1, numFn(math.Sqrt)},
	"POWER": {2, 2, func(a []any) any {
		x, ok := a[0].(float64)
		y, ok1 := a[1].(float64)
		if !ok || !ok1 {
			return Undefined
		}
		return math.Pow(x, y)
	}},
	"REGEXMATCH": {2, 3, func(a []any) any {
		str, ok := a[0].(string)
		pat, ok1 := a[1].(string)
		if !ok || !ok1 {
			return Undefined
		}
		flags := ""
		if len(a) == 3 {
			m, ok := a[2].(string)
			if !ok {
				return Undefined
			}
			for _, f := range m {
				switch f {
				case 'i', 'm', 's':
					flags += string(f)
				case 'x':
					pat = stripExtended(pat)
				}
			}
		}
		if flags != "" {
			pat = "(?" + flags + ")" + pat
		}
		re, err := regexp.Compile(pat)
		if err != nil {
			return Undefined
		}
		return re.MatchString(str)
	}},
	"IIF": {3, 3, func(a []any) any {
		if b, ok := a[0].(bool); ok && b {
			return a[1]
		}
		return a[2]
	}},
}

// strPred builds STARTSWITH/ENDSWITH/CONTAINS/STRINGEQUALS with the optional
// ignore-case third argument.
func strPred(f func(s, x string) bool) func([]any) any {
	return func(a []any) any {
		s, ok := a[0].(string)
		x, ok1 := a[1].(string)
		if !ok || !ok1 {
			return Undefined
		}
		if len(a) == 3 {
			ic, ok := a[2].(bool)
			if !ok {
				return Undefined
			}
			if ic {
				s, x = strings.ToLower(s), strings.ToLower(x)
			}
		}
		return f(s, x)
	}
}

func strFn(f func(string) string) func([]any) any {
	return func(a []any) any {
		if s, ok := a[0].(string); ok {
			return f(s)
		}
		return Undefined
	}
}

func numFn(f func(float64) float64) func([]any) any {
	return func(a []any) any {
		if x, ok := a[0].(float64); ok {
			r := f(x)
			if math.IsNaN(r) || math.IsInf(r, 0) {
				return Undefined
			}
			return r
		}
		return Undefined
	}
}

// contains implements ARRAY_CONTAINS's partial match: an object matches when it has
// every property of the wanted object with an equal value.
func contains(el, want any) bool {
	wm, ok := want.(map[string]any)
	if !ok {
		return deepEqual(el, want)
	}
	em, ok := el.(map[string]any)
	if !ok {
		return false
	}
	for k, v := range wm {
		ev, ok := em[k]
		if !ok || !deepEqual(ev, v) {
			return false
		}
	}
	return true
}

func clamp(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// likeRegexp translates a LIKE pattern (% any run, _ one character, [set] and
// [^set] classes, an optional escape character) into an anchored regexp, cached
// on the node since patterns are usually constants or parameters.
func likeRegexp(n *Like, pat, esc string) *regexp.Regexp {
	key := esc + "\x00" + pat
	if re, ok := n.cache.Load(key); ok {
		return re.(*regexp.Regexp)
	}
	var b strings.Builder
	b.WriteString("(?s)^")
	rs := []rune(pat)
	escR := rune(-1)
	if esc != "" {
		escR = []rune(esc)[0]
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == escR && i+1 < len(rs):
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case r == '%':
			b.WriteString(".*")
		case r == '_':
			b.WriteString(".")
		case r == '[':
			j := i + 1
			for j < len(rs) && rs[j] != ']' {
				j++
			}
			if j >= len(rs) {
				b.WriteString(regexp.QuoteMeta("["))
				continue
			}
			class := string(rs[i+1 : j])
			neg := strings.HasPrefix(class, "^")
			class = strings.TrimPrefix(class, "^")
			b.WriteByte('[')
			if neg {
				b.WriteByte('^')
			}
			b.WriteString(strings.NewReplacer("\\", "\\\\", "[", "\\[", "]", "\\]").Replace(class))
			b.WriteByte(']')
			i = j
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteByte('$')
	re, err := regexp.Compile(b.String())
	if err != nil {
		re = regexp.MustCompile("$^") // matches nothing
	}
	n.cache.Store(key, re)
	return re
}

// stripExtended removes the whitespace the 'x' modifier tells the regexp to ignore.
func stripExtended(p string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, p)
}
