package query

import "fmt"

// resolve binds identifiers to the FROM alias, checks function names and arity, and
// marks aggregate queries. It runs once per Parse so evaluation never fails on
// names.
func resolve(q *Query, outer []map[string]int) *Error {
	var err *Error
	scope := map[string]int{}
	// lookupOuter finds a name in the enclosing queries, nearest first.
	lookupOuter := func(name string, pos int) *Outer {
		for d := 1; d <= len(outer); d++ {
			if i, ok := outer[len(outer)-d][name]; ok {
				return &Outer{Depth: d, Index: i, P: pos}
			}
		}
		return nil
	}
	if q.Alias != "" {
		if outer != nil {
			// A subquery's FROM ranges over a value of the enclosing query.
			src := lookupOuter(q.Alias, 0)
			if src == nil {
				return &Error{Code: "SC2001", Message: fmt.Sprintf("Identifier '%s' could not be resolved: a subquery's FROM must refer to an alias of the enclosing query.", q.Alias)}
			}
			q.source = src
		}
		scope[q.Alias] = 0
	}
	var walk func(e Expr, inSelect bool) Expr
	walk = func(e Expr, inSelect bool) Expr {
		if err != nil || e == nil {
			return e
		}
		switch x := e.(type) {
		case *ident:
			i, ok := scope[x.name]
			if !ok {
				if o := lookupOuter(x.name, x.P); o != nil {
					return o
				}
				err = &Error{Pos: x.P, End: x.end, Code: "SC2001",
					Message: fmt.Sprintf("Identifier '%s' could not be resolved.", x.name)}
				return e
			}
			return &Root{Index: i, P: x.P}
		case *Subquery:
			if e := resolve(x.Q, append(append([]map[string]int{}, outer...), scope)); e != nil {
				err = e
			}
		case *Member:
			x.Base = walk(x.Base, inSelect)
		case *Index:
			x.Base = walk(x.Base, inSelect)
			x.Index = walk(x.Index, inSelect)
		case *Unary:
			x.X = walk(x.X, inSelect)
		case *Binary:
			x.L = walk(x.L, inSelect)
			x.R = walk(x.R, inSelect)
		case *Ternary:
			x.Cond = walk(x.Cond, inSelect)
			x.A = walk(x.A, inSelect)
			x.B = walk(x.B, inSelect)
		case *In:
			x.X = walk(x.X, inSelect)
			for i := range x.List {
				x.List[i] = walk(x.List[i], inSelect)
			}
		case *Like:
			x.X = walk(x.X, inSelect)
			x.Pattern = walk(x.Pattern, inSelect)
			x.Esc = walk(x.Esc, inSelect)
		case *Between:
			x.X = walk(x.X, inSelect)
			x.Lo = walk(x.Lo, inSelect)
			x.Hi = walk(x.Hi, inSelect)
		case *ArrayLit:
			for i := range x.Elems {
				x.Elems[i] = walk(x.Elems[i], inSelect)
			}
		case *ObjectLit:
			for i := range x.Vals {
				x.Vals[i] = walk(x.Vals[i], inSelect)
			}
		case *Call:
			if aggregates[x.Name] {
				if !inSelect {
					err = &Error{Pos: x.P, End: x.P + len(x.Name), Code: "SC2102",
						Message: fmt.Sprintf("Aggregate function '%s' is only allowed in the SELECT clause (at position %d).", x.Name, x.P)}
					return e
				}
				if len(x.Args) != 1 {
					err = arityErr(x)
					return e
				}
				q.aggregate = true
				// An aggregate's argument is evaluated per document: no nested aggregates.
				x.Args[0] = walk(x.Args[0], false)
				return e
			}
			f, ok := functions[x.Name]
			if !ok {
				err = &Error{Pos: x.P, End: x.P + len(x.Name), Code: "SC2005",
					Message: fmt.Sprintf("'%s' is not a recognized built-in function name.", x.Name)}
				return e
			}
			if len(x.Args) < f.min || f.max >= 0 && len(x.Args) > f.max {
				err = arityErr(x)
				return e
			}
			for i := range x.Args {
				x.Args[i] = walk(x.Args[i], inSelect)
			}
		}
		return e
	}
	if q.SelectStar && q.Alias == "" {
		return &Error{Code: "SC2032", Message: "'SELECT *' is not valid if FROM clause is omitted."}
	}
	// Each join sees the bindings before it.
	for i := range q.Joins {
		q.Joins[i].In = walk(q.Joins[i].In, false)
		if _, dup := scope[q.Joins[i].Alias]; dup {
			return &Error{Code: "SC2003", Message: fmt.Sprintf("The alias '%s' is used more than once in the FROM clause.", q.Joins[i].Alias)}
		}
		scope[q.Joins[i].Alias] = i + 1
	}
	if err != nil {
		return err
	}
	for i := range q.Items {
		q.Items[i].Expr = walk(q.Items[i].Expr, true)
	}
	q.Where = walk(q.Where, false)
	for i := range q.GroupBy {
		q.GroupBy[i] = walk(q.GroupBy[i], false)
	}
	for i := range q.OrderBy {
		q.OrderBy[i].Expr = walk(q.OrderBy[i].Expr, false)
	}
	q.Top = walk(q.Top, false)
	q.Offset = walk(q.Offset, false)
	q.Limit = walk(q.Limit, false)
	if err != nil {
		return err
	}
	if len(q.GroupBy) > 0 {
		if q.SelectStar {
			return &Error{Pos: q.GroupBy[0].pos(), Code: "SC2102", Message: "'SELECT *' is not valid with GROUP BY."}
		}
		if len(q.OrderBy) > 0 {
			return &Error{Pos: q.OrderBy[0].Expr.pos(), Code: "SC2101", Message: "ORDER BY is not supported together with GROUP BY."}
		}
		// Non-aggregate projections are taken from the group's first item; Cosmos
		// requires them to be grouping expressions, which makes that the same value.
		q.aggregate = true
		return nil
	}
	if q.aggregate && (len(q.OrderBy) > 0) {
		return &Error{Pos: q.OrderBy[0].Expr.pos(), Code: "SC2101",
			Message: "ORDER BY is not supported together with aggregates by the local Cosmos DB stand-in."}
	}
	if q.aggregate {
		for _, it := range q.Items {
			if !containsAggregate(it.Expr) && usesRoot(it.Expr) {
				return &Error{Pos: it.Expr.pos(), Code: "SC2102",
					Message: fmt.Sprintf("Property reference at position %d is invalid in the select list because it is not contained in an aggregate function (GROUP BY is not supported).", it.Expr.pos())}
			}
		}
	}
	return nil
}

func arityErr(c *Call) *Error {
	return &Error{Pos: c.P, End: c.P + len(c.Name), Code: "SC2050",
		Message: fmt.Sprintf("The %s function requires a different number of arguments than %d (at position %d).", c.Name, len(c.Args), c.P)}
}

func containsAggregate(e Expr) bool {
	found := false
	visit(e, func(e Expr) {
		if c, ok := e.(*Call); ok && aggregates[c.Name] {
			found = true
		}
	})
	return found
}

func usesRoot(e Expr) bool {
	found := false
	visit(e, func(e Expr) {
		if _, ok := e.(*Root); ok {
			found = true
		}
	})
	return found
}

// visit calls f on e and every sub-expression.
func visit(e Expr, f func(Expr)) {
	if e == nil {
		return
	}
	f(e)
	switch x := e.(type) {
	case *Member:
		visit(x.Base, f)
	case *Index:
		visit(x.Base, f)
		visit(x.Index, f)
	case *Unary:
		visit(x.X, f)
	case *Binary:
		visit(x.L, f)
		visit(x.R, f)
	case *Ternary:
		visit(x.Cond, f)
		visit(x.A, f)
		visit(x.B, f)
	case *In:
		visit(x.X, f)
		for _, y := range x.List {
			visit(y, f)
		}
	case *Like:
		visit(x.X, f)
		visit(x.Pattern, f)
		visit(x.Esc, f)
	case *Between:
		visit(x.X, f)
		visit(x.Lo, f)
		visit(x.Hi, f)
	case *Call:
		for _, y := range x.Args {
			visit(y, f)
		}
	case *ArrayLit:
		for _, y := range x.Elems {
			visit(y, f)
		}
	case *ObjectLit:
		for _, y := range x.Vals {
			visit(y, f)
		}
	}
}
