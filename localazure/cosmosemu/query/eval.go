package query

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Doc is one input document: its parsed form and, optionally, its stored JSON so
// that SELECT * can return it without re-encoding.
type Doc struct {
	Raw []byte
	Val any
}

// Row is one result: Raw is set when the row is an input document unchanged.
type Row struct {
	Raw []byte
	Val any
}

// RuntimeError is an error found while evaluating (e.g. a TOP parameter that is not
// a number); the service reports these as 400 BadRequest too.
type RuntimeError struct{ Message string }

func (e *RuntimeError) Error() string { return e.Message }

// env is the evaluation context for one binding tuple.
type env struct {
	vars   []any   // [0] the document, then one value per join
	outer  [][]any // bindings of the enclosing queries, outermost first
	params map[string]any
	aggs   map[*Call]*accumulator // results of aggregate calls, in the final projection
}

// tuple is one combination of bindings that passed WHERE.
type tuple struct {
	vars []any
	raw  []byte // the document's stored JSON
}

// Run evaluates the query over docs (in their given order, which becomes the result
// order when there is no ORDER BY). params maps "@name" to a decoded JSON value.
func (q *Query) Run(docs []Doc, params map[string]any) ([]Row, error) {
	return q.run(docs, params, nil)
}

func (q *Query) run(docs []Doc, params map[string]any, outer [][]any) ([]Row, error) {
	base := env{params: params, outer: outer}
	top, offset, limit := -1, 0, -1
	if q.Top != nil {
		n, ok := toInt(base.eval(q.Top))
		if !ok {
			return nil, &RuntimeError{"The TOP value must be a non-negative integer."}
		}
		top = n
	}
	if q.Offset != nil {
		o, ok1 := toInt(base.eval(q.Offset))
		l, ok2 := toInt(base.eval(q.Limit))
		if !ok1 || !ok2 {
			return nil, &RuntimeError{"The OFFSET and LIMIT values must be non-negative integers."}
		}
		offset, limit = o, l
	}
	switch {
	case q.source != nil: // a subquery ranges over one value of its enclosing query
		docs = []Doc{{Val: base.eval(q.source)}}
	case q.Alias == "": // SELECT without FROM evaluates once, with no document
		docs = []Doc{{Val: Undefined}}
	}

	// Bind and filter.
	matched := make([]tuple, 0, len(docs))
	nvars := 1 + len(q.Joins)
	for _, d := range docs {
		vars := make([]any, nvars)
		vars[0] = d.Val
		q.bind(&base, vars, 1, func(vars []any) {
			if q.Where != nil {
				e := base
				e.vars = vars
				if v, ok := e.eval(q.Where).(bool); !ok || !v {
					return
				}
			}
			matched = append(matched, tuple{vars: append([]any(nil), vars...), raw: d.Raw})
		})
	}

	if q.aggregate {
		return q.runAggregate(matched, base)
	}

	// Sort.
	if len(q.OrderBy) > 0 {
		keys := make([][]any, len(matched))
		for i, t := range matched {
			e := base
			e.vars = t.vars
			k := make([]any, len(q.OrderBy))
			for j, ob := range q.OrderBy {
				k[j] = e.eval(ob.Expr)
			}
			keys[i] = k
		}
		idx := make([]int, len(matched))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool {
			ka, kb := keys[idx[a]], keys[idx[b]]
			for j, ob := range q.OrderBy {
				c := Compare(ka[j], kb[j])
				if ob.Desc {
					c = -c
				}
				if c != 0 {
					return c < 0
				}
			}
			return false
		})
		sorted := make([]tuple, len(matched))
		for i, k := range idx {
			sorted[i] = matched[k]
		}
		matched = sorted
	}

	// Project, DISTINCT, OFFSET/LIMIT, TOP.
	rows := make([]Row, 0, len(matched))
	var seen map[string]bool
	if q.Distinct {
		seen = map[string]bool{}
	}
	skipped := 0
	for _, t := range matched {
		if top >= 0 && len(rows) >= top || limit >= 0 && len(rows) >= limit {
			break
		}
		e := base
		e.vars = t.vars
		r, ok := q.project(&e, t)
		if !ok {
			continue
		}
		if seen != nil {
			k := canonical(r.Val)
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		if skipped < offset {
			skipped++
			continue
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// bind enumerates the join bindings from level on, calling emit for each full tuple.
// A join over something that is not an array yields nothing, as in Cosmos.
func (q *Query) bind(base *env, vars []any, level int, emit func([]any)) {
	if level > len(q.Joins) {
		emit(vars)
		return
	}
	e := *base
	e.vars = vars
	arr, ok := e.eval(q.Joins[level-1].In).([]any)
	if !ok {
		return
	}
	for _, el := range arr {
		vars[level] = el
		q.bind(base, vars, level+1, emit)
	}
}

// project computes the output row for one tuple; ok is false when SELECT VALUE
// yields undefined, which Cosmos leaves out of the results.
func (q *Query) project(e *env, t tuple) (Row, bool) {
	switch {
	case q.SelectStar:
		switch {
		case len(q.Joins) == 0:
			return Row{Raw: t.raw, Val: t.vars[0]}, true
		case q.hideRoot && len(q.Joins) == 1:
			return Row{Val: t.vars[1]}, true
		}
		// Several bindings: one property per alias.
		o := &Object{}
		if !q.hideRoot {
			o.Keys = append(o.Keys, q.Alias)
			o.Vals = append(o.Vals, t.vars[0])
		}
		for i, j := range q.Joins {
			o.Keys = append(o.Keys, j.Alias)
			o.Vals = append(o.Vals, t.vars[i+1])
		}
		return Row{Val: o}, true
	case q.SelectValue:
		v := e.eval(q.Items[0].Expr)
		if IsUndefined(v) {
			return Row{}, false
		}
		if r, isRoot := q.Items[0].Expr.(*Root); isRoot && r.Index == 0 {
			return Row{Raw: t.raw, Val: v}, true
		}
		return Row{Val: v}, true
	}
	o := &Object{}
	for _, it := range q.Items {
		v := e.eval(it.Expr)
		if IsUndefined(v) {
			continue
		}
		o.Keys = append(o.Keys, it.Name)
		o.Vals = append(o.Vals, v)
	}
	return Row{Val: o}, true
}

func (q *Query) runAggregate(matched []tuple, base env) ([]Row, error) {
	type group struct {
		first tuple
		accs  map[*Call]*accumulator
	}
	newGroup := func(t tuple) *group {
		g := &group{first: t, accs: map[*Call]*accumulator{}}
		for _, it := range q.Items {
			visit(it.Expr, func(x Expr) {
				if c, ok := x.(*Call); ok && aggregates[c.Name] {
					g.accs[c] = &accumulator{fn: c.Name}
				}
			})
		}
		return g
	}
	var groups []*group
	if len(q.GroupBy) == 0 {
		// One group over everything, even when nothing matched (COUNT is then 0).
		empty := tuple{vars: make([]any, 1+len(q.Joins))}
		for i := range empty.vars {
			empty.vars[i] = Undefined
		}
		groups = append(groups, newGroup(empty))
	}
	byKey := map[string]*group{}
	for _, t := range matched {
		e := base
		e.vars = t.vars
		var g *group
		if len(q.GroupBy) == 0 {
			g = groups[0]
		} else {
			var kb strings.Builder
			for _, ge := range q.GroupBy {
				kb.WriteString(canonical(e.eval(ge)))
				kb.WriteByte(0)
			}
			k := kb.String()
			if g = byKey[k]; g == nil {
				g = newGroup(t)
				byKey[k] = g
				groups = append(groups, g)
			}
		}
		for c, a := range g.accs {
			a.add(e.eval(c.Args[0]))
		}
	}
	rows := make([]Row, 0, len(groups))
	for _, g := range groups {
		e := base
		e.vars = g.first.vars
		e.aggs = g.accs
		if r, ok := q.project(&e, g.first); ok {
			rows = append(rows, r)
		}
	}
	// OFFSET/LIMIT and TOP apply to the grouped rows.
	if q.Offset != nil {
		o, _ := toInt(base.eval(q.Offset))
		l, _ := toInt(base.eval(q.Limit))
		rows = rows[min(o, len(rows)):]
		rows = rows[:min(l, len(rows))]
	}
	if q.Top != nil {
		n, _ := toInt(base.eval(q.Top))
		rows = rows[:min(n, len(rows))]
	}
	return rows, nil
}

// accumulator folds one aggregate function over the matching documents.
type accumulator struct {
	fn       string
	count    int
	sum      float64
	best     any
	hasBest  bool
	nonNum   bool // SUM/AVG over a non-number is undefined
	numCount int
}

func (a *accumulator) add(v any) {
	if IsUndefined(v) {
		return
	}
	switch a.fn {
	case "COUNT":
		a.count++
	case "SUM", "AVG":
		f, ok := v.(float64)
		if !ok {
			a.nonNum = true
			return
		}
		a.sum += f
		a.numCount++
	case "MIN", "MAX":
		if _, isObj := v.(map[string]any); isObj {
			return
		}
		if _, isArr := v.([]any); isArr {
			return
		}
		if !a.hasBest {
			a.best, a.hasBest = v, true
			return
		}
		c := Compare(v, a.best)
		if a.fn == "MIN" && c < 0 || a.fn == "MAX" && c > 0 {
			a.best = v
		}
	}
}

func (a *accumulator) result() any {
	switch a.fn {
	case "COUNT":
		return float64(a.count)
	case "SUM":
		if a.nonNum {
			return Undefined
		}
		return a.sum
	case "AVG":
		if a.nonNum || a.numCount == 0 {
			return Undefined
		}
		return a.sum / float64(a.numCount)
	default:
		if !a.hasBest {
			return Undefined
		}
		return a.best
	}
}

// eval computes an expression for the current document.
func (e *env) eval(x Expr) any {
	switch n := x.(type) {
	case *Lit:
		return n.Val
	case *Param:
		if v, ok := e.params[n.Name]; ok {
			return v
		}
		return Undefined
	case *Root:
		if n.Index < len(e.vars) {
			return e.vars[n.Index]
		}
		return Undefined
	case *Member:
		b := e.eval(n.Base)
		if m, ok := b.(map[string]any); ok {
			if v, ok := m[n.Name]; ok {
				return v
			}
		}
		return Undefined
	case *Index:
		b := e.eval(n.Base)
		i := e.eval(n.Index)
		switch bv := b.(type) {
		case []any:
			if f, ok := i.(float64); ok && f >= 0 && f == math.Trunc(f) && int(f) < len(bv) {
				return bv[int(f)]
			}
		case map[string]any:
			if s, ok := i.(string); ok {
				if v, ok := bv[s]; ok {
					return v
				}
			}
		}
		return Undefined
	case *Unary:
		v := e.eval(n.X)
		switch n.Op {
		case "NOT":
			if b, ok := v.(bool); ok {
				return !b
			}
		case "-":
			if f, ok := v.(float64); ok {
				return -f
			}
		case "+":
			if f, ok := v.(float64); ok {
				return f
			}
		case "~":
			if f, ok := v.(float64); ok {
				return float64(^int64(f))
			}
		}
		return Undefined
	case *Binary:
		return e.evalBinary(n)
	case *Ternary:
		if b, ok := e.eval(n.Cond).(bool); ok && b {
			return e.eval(n.A)
		}
		return e.eval(n.B)
	case *In:
		v := e.eval(n.X)
		if IsUndefined(v) {
			return Undefined
		}
		found := false
		for _, it := range n.List {
			if eq, ok := equal(v, e.eval(it)).(bool); ok && eq {
				found = true
				break
			}
		}
		return found != n.Not
	case *Between:
		v, lo, hi := e.eval(n.X), e.eval(n.Lo), e.eval(n.Hi)
		c1, ok1 := compareSame(v, lo)
		c2, ok2 := compareSame(v, hi)
		if !ok1 || !ok2 {
			return Undefined
		}
		return (c1 >= 0 && c2 <= 0) != n.Not
	case *Outer:
		if n.Depth <= len(e.outer) {
			if vars := e.outer[len(e.outer)-n.Depth]; n.Index < len(vars) {
				return vars[n.Index]
			}
		}
		return Undefined
	case *Subquery:
		stack := append(append(make([][]any, 0, len(e.outer)+1), e.outer...), e.vars)
		rows, err := n.Q.run(nil, e.params, stack)
		if err != nil {
			return Undefined
		}
		switch n.Kind {
		case "EXISTS":
			return len(rows) > 0
		case "ARRAY":
			arr := make([]any, len(rows))
			for i, r := range rows {
				arr[i] = plain(r.Val)
			}
			return arr
		}
		if len(rows) == 0 {
			return Undefined
		}
		return plain(rows[0].Val)
	case *Like:
		s, ok1 := e.eval(n.X).(string)
		pat, ok2 := e.eval(n.Pattern).(string)
		esc := ""
		if n.Esc != nil {
			es, ok := e.eval(n.Esc).(string)
			if !ok || len([]rune(es)) != 1 {
				return Undefined
			}
			esc = es
		}
		if !ok1 || !ok2 {
			return Undefined
		}
		return likeRegexp(n, pat, esc).MatchString(s) != n.Not
	case *ArrayLit:
		out := make([]any, 0, len(n.Elems))
		for _, el := range n.Elems {
			v := e.eval(el)
			if IsUndefined(v) {
				continue // Cosmos drops undefined array elements
			}
			out = append(out, v)
		}
		return out
	case *ObjectLit:
		out := make(map[string]any, len(n.Keys))
		for i, k := range n.Keys {
			v := e.eval(n.Vals[i])
			if !IsUndefined(v) {
				out[k] = v
			}
		}
		return out
	case *Call:
		if aggregates[n.Name] {
			if a, ok := e.aggs[n]; ok {
				return a.result()
			}
			return Undefined
		}
		args := make([]any, len(n.Args))
		for i, a := range n.Args {
			args[i] = e.eval(a)
		}
		return functions[n.Name].fn(args)
	}
	panic(fmt.Sprintf("query: unknown expression %T", x))
}

func (e *env) evalBinary(n *Binary) any {
	switch n.Op {
	case "AND":
		l := e.eval(n.L)
		if b, ok := l.(bool); ok && !b {
			return false
		}
		r := e.eval(n.R)
		if b, ok := r.(bool); ok && !b {
			return false
		}
		lb, ok1 := l.(bool)
		rb, ok2 := r.(bool)
		if ok1 && ok2 {
			return lb && rb
		}
		return Undefined
	case "OR":
		l := e.eval(n.L)
		if b, ok := l.(bool); ok && b {
			return true
		}
		r := e.eval(n.R)
		if b, ok := r.(bool); ok && b {
			return true
		}
		_, ok1 := l.(bool)
		_, ok2 := r.(bool)
		if ok1 && ok2 {
			return false
		}
		return Undefined
	case "??":
		l := e.eval(n.L)
		if !IsUndefined(l) {
			return l
		}
		return e.eval(n.R)
	}
	l, r := e.eval(n.L), e.eval(n.R)
	switch n.Op {
	case "=":
		return equal(l, r)
	case "!=":
		v := equal(l, r)
		if b, ok := v.(bool); ok {
			return !b
		}
		return Undefined
	case "<", "<=", ">", ">=":
		c, ok := compareSame(l, r)
		if !ok {
			return Undefined
		}
		switch n.Op {
		case "<":
			return c < 0
		case "<=":
			return c <= 0
		case ">":
			return c > 0
		}
		return c >= 0
	case "||":
		ls, ok1 := l.(string)
		rs, ok2 := r.(string)
		if ok1 && ok2 {
			return ls + rs
		}
		return Undefined
	}
	lf, ok1 := l.(float64)
	rf, ok2 := r.(float64)
	if !ok1 || !ok2 {
		return Undefined
	}
	switch n.Op {
	case "+":
		return lf + rf
	case "-":
		return lf - rf
	case "*":
		return lf * rf
	case "/":
		if rf == 0 {
			return Undefined
		}
		return lf / rf
	case "%":
		if rf == 0 {
			return Undefined
		}
		return math.Mod(lf, rf)
	}
	return Undefined
}
