package query

import (
	"encoding/json"
	"math"
	"sort"
	"strings"
	"time"
)

// cosmosTimeLayout is how Cosmos renders date-times: UTC with seven fractional digits.
const cosmosTimeLayout = "2006-01-02T15:04:05.0000000Z"

// ticksAtUnixEpoch is the .NET tick count (100 ns since 0001-01-01) at 1970-01-01.
const ticksAtUnixEpoch = 621355968000000000

// dateTimeFunctions are the date-time functions and the conversion and numeric
// helpers that share their code; part of the functions registry.
var dateTimeFunctions = map[string]builtin{
	"GETCURRENTDATETIME":  {0, 0, func([]any) any { return time.Now().UTC().Format(cosmosTimeLayout) }},
	"GETCURRENTTIMESTAMP": {0, 0, func([]any) any { return float64(time.Now().UnixMilli()) }},
	"GETCURRENTTICKS":     {0, 0, func([]any) any { return float64(time.Now().UnixNano()/100 + ticksAtUnixEpoch) }},
	"DATETIMETOTIMESTAMP": {1, 1, func(a []any) any {
		t, ok := parseDateTime(a[0])
		if !ok {
			return Undefined
		}
		return float64(t.UnixMilli())
	}},
	"TIMESTAMPTODATETIME": {1, 1, func(a []any) any {
		ms, ok := a[0].(float64)
		if !ok {
			return Undefined
		}
		return time.UnixMilli(int64(ms)).UTC().Format(cosmosTimeLayout)
	}},
	"DATETIMETOTICKS": {1, 1, func(a []any) any {
		t, ok := parseDateTime(a[0])
		if !ok {
			return Undefined
		}
		return float64(t.UnixNano()/100 + ticksAtUnixEpoch)
	}},
	"TICKSTODATETIME": {1, 1, func(a []any) any {
		ticks, ok := a[0].(float64)
		if !ok {
			return Undefined
		}
		return time.Unix(0, (int64(ticks)-ticksAtUnixEpoch)*100).UTC().Format(cosmosTimeLayout)
	}},
	"DATETIMEADD": {3, 3, func(a []any) any {
		part, ok1 := a[0].(string)
		n, ok2 := a[1].(float64)
		t, ok3 := parseDateTime(a[2])
		if !ok1 || !ok2 || !ok3 {
			return Undefined
		}
		var r time.Time
		switch normPart(part) {
		case "year":
			r = t.AddDate(int(n), 0, 0)
		case "month":
			r = t.AddDate(0, int(n), 0)
		case "day":
			r = t.AddDate(0, 0, int(n))
		case "hour":
			r = t.Add(time.Duration(n) * time.Hour)
		case "minute":
			r = t.Add(time.Duration(n) * time.Minute)
		case "second":
			r = t.Add(time.Duration(n) * time.Second)
		case "millisecond":
			r = t.Add(time.Duration(n) * time.Millisecond)
		case "microsecond":
			r = t.Add(time.Duration(n) * time.Microsecond)
		case "nanosecond":
			r = t.Add(time.Duration(n))
		default:
			return Undefined
		}
		return r.UTC().Format(cosmosTimeLayout)
	}},
	"DATETIMEDIFF": {3, 3, func(a []any) any {
		part, ok1 := a[0].(string)
		t1, ok2 := parseDateTime(a[1])
		t2, ok3 := parseDateTime(a[2])
		if !ok1 || !ok2 || !ok3 {
			return Undefined
		}
		// Like SQL's DATEDIFF: the number of part boundaries crossed.
		switch normPart(part) {
		case "year":
			return float64(t2.Year() - t1.Year())
		case "month":
			return float64((t2.Year()-t1.Year())*12 + int(t2.Month()) - int(t1.Month()))
		case "day":
			return float64(floorDiv(t2.Unix(), 86400) - floorDiv(t1.Unix(), 86400))
		case "hour":
			return float64(floorDiv(t2.Unix(), 3600) - floorDiv(t1.Unix(), 3600))
		case "minute":
			return float64(floorDiv(t2.Unix(), 60) - floorDiv(t1.Unix(), 60))
		case "second":
			return float64(t2.Unix() - t1.Unix())
		case "millisecond":
			return float64(t2.UnixMilli() - t1.UnixMilli())
		case "microsecond":
			return float64(t2.UnixMicro() - t1.UnixMicro())
		case "nanosecond":
			return float64(t2.UnixNano() - t1.UnixNano())
		}
		return Undefined
	}},
	"DATETIMEPART": {2, 2, func(a []any) any {
		part, ok1 := a[0].(string)
		t, ok2 := parseDateTime(a[1])
		if !ok1 || !ok2 {
			return Undefined
		}
		switch normPart(part) {
		case "year":
			return float64(t.Year())
		case "month":
			return float64(t.Month())
		case "day":
			return float64(t.Day())
		case "hour":
			return float64(t.Hour())
		case "minute":
			return float64(t.Minute())
		case "second":
			return float64(t.Second())
		case "millisecond":
			return float64(t.Nanosecond() / 1e6)
		case "microsecond":
			return float64(t.Nanosecond() / 1e3)
		case "nanosecond":
			return float64(t.Nanosecond())
		}
		return Undefined
	}},
	"IS_INTEGER": {1, 1, func(a []any) any {
		f, ok := a[0].(float64)
		return ok && f == math.Trunc(f) && math.Abs(f) <= 1<<53
	}},
	"IS_FINITE_NUMBER": {1, 1, func(a []any) any {
		f, ok := a[0].(float64)
		return ok && !math.IsInf(f, 0) && !math.IsNaN(f)
	}},
	"STRINGTOARRAY":   {1, 1, parseAs(func(v any) bool { _, ok := v.([]any); return ok })},
	"STRINGTOOBJECT":  {1, 1, parseAs(func(v any) bool { _, ok := v.(map[string]any); return ok })},
	"STRINGTOBOOLEAN": {1, 1, parseAs(func(v any) bool { _, ok := v.(bool); return ok })},
	"STRINGTONUMBER":  {1, 1, parseAs(func(v any) bool { _, ok := v.(float64); return ok })},
	"STRINGTONULL":    {1, 1, parseAs(func(v any) bool { return v == nil })},
	"OBJECTTOARRAY": {1, 1, func(a []any) any {
		m, ok := a[0].(map[string]any)
		if !ok {
			return Undefined
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = map[string]any{"k": k, "v": m[k]}
		}
		return out
	}},
	"SETINTERSECT": {2, 2, func(a []any) any {
		x, ok1 := a[0].([]any)
		y, ok2 := a[1].([]any)
		if !ok1 || !ok2 {
			return Undefined
		}
		in := map[string]bool{}
		for _, v := range y {
			in[canonical(v)] = true
		}
		out, seen := []any{}, map[string]bool{}
		for _, v := range x {
			k := canonical(v)
			if in[k] && !seen[k] {
				seen[k] = true
				out = append(out, v)
			}
		}
		return out
	}},
	"SETUNION": {2, 2, func(a []any) any {
		x, ok1 := a[0].([]any)
		y, ok2 := a[1].([]any)
		if !ok1 || !ok2 {
			return Undefined
		}
		out, seen := []any{}, map[string]bool{}
		for _, v := range append(append([]any{}, x...), y...) {
			if k := canonical(v); !seen[k] {
				seen[k] = true
				out = append(out, v)
			}
		}
		return out
	}},
	"LOG":     {1, 2, logFn},
	"LOG10":   {1, 1, numFn(math.Log10)},
	"EXP":     {1, 1, numFn(math.Exp)},
	"SIGN":    {1, 1, numFn(func(f float64) float64 { return math.Copysign(map[bool]float64{true: 0, false: 1}[f == 0], f) })},
	"PI":      {0, 0, func([]any) any { return math.Pi }},
	"RADIANS": {1, 1, numFn(func(f float64) float64 { return f * math.Pi / 180 })},
	"DEGREES": {1, 1, numFn(func(f float64) float64 { return f * 180 / math.Pi })},
	"SIN":     {1, 1, numFn(math.Sin)},
	"COS":     {1, 1, numFn(math.Cos)},
	"TAN":     {1, 1, numFn(math.Tan)},
	"NUMBERBIN": {1, 2, func(a []any) any {
		f, ok := a[0].(float64)
		if !ok {
			return Undefined
		}
		size := 1.0
		if len(a) == 2 {
			s, ok := a[1].(float64)
			if !ok || s <= 0 {
				return Undefined
			}
			size = s
		}
		return math.Floor(f/size) * size
	}},
}

func logFn(a []any) any {
	f, ok := a[0].(float64)
	if !ok || f <= 0 {
		return Undefined
	}
	if len(a) == 2 {
		base, ok := a[1].(float64)
		if !ok || base <= 0 || base == 1 {
			return Undefined
		}
		return math.Log(f) / math.Log(base)
	}
	return math.Log(f)
}

// parseAs implements the StringTo* conversions: the string must hold JSON of the
// wanted type.
func parseAs(want func(any) bool) func([]any) any {
	return func(a []any) any {
		s, ok := a[0].(string)
		if !ok {
			return Undefined
		}
		var v any
		if err := json.Unmarshal([]byte(strings.TrimSpace(s)), &v); err != nil || !want(v) {
			return Undefined
		}
		return v
	}
}

// parseDateTime reads an ISO 8601 UTC date-time as Cosmos stores them.
func parseDateTime(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// normPart maps the date-part names and abbreviations Cosmos accepts.
func normPart(p string) string {
	switch strings.ToLower(p) {
	case "year", "yyyy", "yy":
		return "year"
	case "month", "mm", "m":
		return "month"
	case "day", "dd", "d":
		return "day"
	case "hour", "hh":
		return "hour"
	case "minute", "mi", "n":
		return "minute"
	case "second", "ss", "s":
		return "second"
	case "millisecond", "ms":
		return "millisecond"
	case "microsecond", "mcs":
		return "microsecond"
	case "nanosecond", "ns":
		return "nanosecond"
	}
	return ""
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) != (b < 0) {
		q--
	}
	return q
}
