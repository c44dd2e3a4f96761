package query

// What a query reads of its documents, worked out once at Parse so that the
// caller can (1) decode only the top-level properties the query looks at, and
// (2) narrow the documents to evaluate with an index. Both are optimisations the
// evaluator does not depend on: given whole documents and every document it
// produces the same rows.

// DocumentProperties reports the top-level properties of the document that the
// query reads. When all is true the query needs the whole decoded document (it
// computes with the document itself, as in SELECT DISTINCT *, SELECT c.x, c or
// IS_DEFINED(c), or it has a subquery); otherwise a document decoded to just the
// named properties (a missing one left out, as when absent) gives the same rows,
// provided that rows returning the document unchanged use its stored JSON (Raw).
func (q *Query) DocumentProperties() (names []string, all bool) {
	return q.docProps, q.docAll
}

// analyseAccess fills docProps and docAll for a top-level query.
func (q *Query) analyseAccess() {
	if q.Alias == "" {
		return // no FROM: documents are not read
	}
	seen := map[string]bool{}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			q.docProps = append(q.docProps, name)
		}
	}
	var use func(e Expr)
	use = func(e Expr) {
		if e == nil || q.docAll {
			return
		}
		switch x := e.(type) {
		case *Root:
			if x.Index == 0 {
				q.docAll = true // the document as a value
			}
			return
		case *Subquery:
			q.docAll = true // correlated bindings are not followed
			return
		case *Member:
			if isDocRoot(x.Base) {
				add(x.Name)
				return
			}
		case *Index:
			if isDocRoot(x.Base) {
				if l, ok := x.Index.(*Lit); ok {
					if name, ok := l.Val.(string); ok {
						add(name)
						return
					}
					return // a number indexes no object: undefined whatever the document
				}
			}
		}
		eachChild(e, use)
	}
	switch {
	case q.SelectStar:
		// SELECT * returns the stored JSON unless there are several bindings, or
		// DISTINCT compares the documents.
		if q.Distinct || len(q.Joins) > 0 && !(q.hideRoot && len(q.Joins) == 1) {
			q.docAll = true
		}
	case q.SelectValue && isDocRoot(q.Items[0].Expr):
		// SELECT VALUE c returns the stored JSON, unless DISTINCT compares them.
		if q.Distinct {
			q.docAll = true
		}
	default:
		for _, it := range q.Items {
			use(it.Expr)
		}
	}
	for _, j := range q.Joins {
		use(j.In)
	}
	use(q.Where)
	for _, g := range q.GroupBy {
		use(g)
	}
	for _, o := range q.OrderBy {
		use(o.Expr)
	}
	use(q.Top)
	use(q.Offset)
	use(q.Limit)
	if q.docAll {
		q.docProps = nil
	}
}

func isDocRoot(e Expr) bool {
	r, ok := e.(*Root)
	return ok && r.Index == 0
}

// Equalities returns the values that the WHERE clause requires the document's
// property at path (segments from the document root, e.g. {"id"} or
// {"address", "zip"}) to equal for a document to match: the constants of a
// top-level AND term "c.path = v" (either way round) or "c.path IN (v, ...)" whose
// operands are literals or parameters (an absent parameter is Undefined). ok is
// false when there is no such term. The first such term found is used; the
// evaluator still checks the whole clause.
func (q *Query) Equalities(path []string, params map[string]any) (vals []any, ok bool) {
	if q.Alias == "" || q.Where == nil {
		return nil, false
	}
	constant := func(e Expr) (any, bool) {
		switch x := e.(type) {
		case *Lit:
			return x.Val, true
		case *Param:
			if v, ok := params[x.Name]; ok {
				return v, true
			}
			return Undefined, true
		}
		return nil, false
	}
	var terms []Expr
	var flatten func(e Expr)
	flatten = func(e Expr) {
		if b, ok := e.(*Binary); ok && b.Op == "AND" {
			flatten(b.L)
			flatten(b.R)
			return
		}
		terms = append(terms, e)
	}
	flatten(q.Where)
	for _, t := range terms {
		switch x := t.(type) {
		case *Binary:
			if x.Op != "=" {
				continue
			}
			if isPath(x.L, path) {
				if v, ok := constant(x.R); ok {
					return []any{v}, true
				}
			}
			if isPath(x.R, path) {
				if v, ok := constant(x.L); ok {
					return []any{v}, true
				}
			}
		case *In:
			if x.Not || !isPath(x.X, path) {
				continue
			}
			out := make([]any, 0, len(x.List))
			all := true
			for _, it := range x.List {
				v, ok := constant(it)
				if !ok {
					all = false
					break
				}
				out = append(out, v)
			}
			if all {
				return out, true
			}
		}
	}
	return nil, false
}

// isPath reports whether e reads exactly the document property at path.
func isPath(e Expr, path []string) bool {
	if len(path) == 0 {
		return isDocRoot(e)
	}
	last := path[len(path)-1]
	switch x := e.(type) {
	case *Member:
		return x.Name == last && isPath(x.Base, path[:len(path)-1])
	case *Index:
		l, ok := x.Index.(*Lit)
		if !ok {
			return false
		}
		s, ok := l.Val.(string)
		return ok && s == last && isPath(x.Base, path[:len(path)-1])
	}
	return false
}

// eachChild calls f on each direct sub-expression of e.
func eachChild(e Expr, f func(Expr)) {
	switch x := e.(type) {
	case *Member:
		f(x.Base)
	case *Index:
		f(x.Base)
		f(x.Index)
	case *Unary:
		f(x.X)
	case *Binary:
		f(x.L)
		f(x.R)
	case *Ternary:
		f(x.Cond)
		f(x.A)
		f(x.B)
	case *In:
		f(x.X)
		for _, y := range x.List {
			f(y)
		}
	case *Like:
		f(x.X)
		f(x.Pattern)
		if x.Esc != nil {
			f(x.Esc)
		}
	case *Between:
		f(x.X)
		f(x.Lo)
		f(x.Hi)
	case *Call:
		for _, y := range x.Args {
			f(y)
		}
	case *ArrayLit:
		for _, y := range x.Elems {
			f(y)
		}
	case *ObjectLit:
		for _, y := range x.Vals {
			f(y)
		}
	}
}

// Matcher evaluates the WHERE clause on one document at a time, for a caller
// that filters documents before Run to save decoding them; Run evaluates the
// clause again, so a Matcher only ever removes documents Run would drop.
type Matcher struct {
	where Expr
	e     env
	vars  [1]any
}

// Matcher returns a Matcher for the query with these parameters, or nil when its
// WHERE clause cannot be evaluated on a document alone (no WHERE, no FROM, or
// joins, whose bindings the clause may read). A Matcher is not safe for
// concurrent use.
func (q *Query) Matcher(params map[string]any) *Matcher {
	if q.Alias == "" || q.Where == nil || len(q.Joins) > 0 || q.source != nil {
		return nil
	}
	m := &Matcher{where: q.Where}
	m.e = env{params: params}
	m.e.vars = m.vars[:]
	return m
}

// Match reports whether the document satisfies the WHERE clause.
func (m *Matcher) Match(doc any) bool {
	m.vars[0] = doc
	v, ok := m.e.eval(m.where).(bool)
	m.vars[0] = nil
	return ok && v
}
