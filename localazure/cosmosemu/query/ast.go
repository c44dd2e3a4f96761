package query

import "sync"

// Query is a parsed SELECT statement.
type Query struct {
	Distinct    bool
	Top         Expr // nil when absent
	SelectStar  bool
	SelectValue bool         // SELECT VALUE expr: Items has exactly one element
	Items       []SelectItem // projections (or the VALUE expression)
	Alias       string       // FROM alias of the document; "" when there is no FROM clause
	// Joins are the iteration bindings after the document: "JOIN t IN c.tags" and
	// the "FROM t IN c.tags" form (which hides the document itself from SELECT *).
	Joins    []Join
	hideRoot bool
	// source, in a subquery, is the enclosing binding its FROM iterates over
	// (nil: a top-level query over the container's documents).
	source  Expr
	Where   Expr
	GroupBy []Expr
	OrderBy []OrderItem
	Offset  Expr // with Limit, both or neither
	Limit   Expr

	aggregate bool // the projection uses aggregate functions (no GROUP BY)

	// What the query reads of a document (access.go), for a top-level query.
	docProps []string
	docAll   bool
}

// SelectItem is one projection with its output property name.
type SelectItem struct {
	Expr Expr
	Name string
}

// OrderItem is one ORDER BY key.
type OrderItem struct {
	Expr Expr
	Desc bool
}

// HasOrderBy reports whether the query sorts its results.
func (q *Query) HasOrderBy() bool { return len(q.OrderBy) > 0 }

// IsAggregate reports whether the query computes aggregates over all matches.
func (q *Query) IsAggregate() bool { return q.aggregate }

// Expr is an expression node.
type Expr interface{ pos() int }

// Lit is a literal value (nil for null, Undefined for undefined).
type Lit struct {
	Val any
	P   int
}

// Param references a query parameter such as @id.
type Param struct {
	Name string
	P    int
}

// Subquery is (SELECT ...), EXISTS(SELECT ...) or ARRAY(SELECT ...), correlated
// with the enclosing query's bindings.
type Subquery struct {
	Q    *Query
	Kind string // "SCALAR", "EXISTS" or "ARRAY"
	P    int
}

// Outer reads a binding of an enclosing query: Depth 1 is the nearest.
type Outer struct {
	Depth, Index int
	P            int
}

// Join binds Alias to each element of the array In evaluates to.
type Join struct {
	Alias string
	In    Expr
}

// Root is a bound variable: Index 0 is the document, 1.. the Joins in order.
type Root struct {
	Index int
	P     int
}

// Member is base.Name or base["Name"].
type Member struct {
	Base Expr
	Name string
	P    int
}

// Index is base[expr] with a computed index or property name.
type Index struct {
	Base, Index Expr
	P           int
}

// Unary is NOT, -, +, ~ applied to X.
type Unary struct {
	Op string
	X  Expr
	P  int
}

// Binary is a binary operator: AND OR = != < <= > >= + - * / % || ??.
type Binary struct {
	Op   string
	L, R Expr
	P    int
}

// Ternary is cond ? a : b.
type Ternary struct {
	Cond, A, B Expr
	P          int
}

// In is X [NOT] IN (list).
type In struct {
	X    Expr
	List []Expr
	Not  bool
	P    int
}

// Between is X [NOT] BETWEEN Lo AND Hi.
type Between struct {
	X, Lo, Hi Expr
	Not       bool
	P         int
}

// Like is X [NOT] LIKE Pattern [ESCAPE Esc].
type Like struct {
	X, Pattern, Esc Expr
	Not             bool
	P               int
	cache           sync.Map // pattern+escape -> *regexp.Regexp
}

// Call is a built-in function call; Name is upper-cased.
type Call struct {
	Name string
	Args []Expr
	P    int
}

// ArrayLit is [a, b, ...].
type ArrayLit struct {
	Elems []Expr
	P     int
}

// ObjectLit is {"k": v, ...}.
type ObjectLit struct {
	Keys []string
	Vals []Expr
	P    int
}

func (e *Lit) pos() int       { return e.P }
func (e *Param) pos() int     { return e.P }
func (e *Root) pos() int      { return e.P }
func (e *Member) pos() int    { return e.P }
func (e *Index) pos() int     { return e.P }
func (e *Unary) pos() int     { return e.P }
func (e *Binary) pos() int    { return e.P }
func (e *Ternary) pos() int   { return e.P }
func (e *In) pos() int        { return e.P }
func (e *Between) pos() int   { return e.P }
func (e *Call) pos() int      { return e.P }
func (e *Like) pos() int      { return e.P }
func (e *Subquery) pos() int  { return e.P }
func (e *Outer) pos() int     { return e.P }
func (e *ArrayLit) pos() int  { return e.P }
func (e *ObjectLit) pos() int { return e.P }

// OrderByPaths returns the ORDER BY keys as property paths ("/a/b") with their
// directions, and ok=false when a key is not a plain path of the item (which a
// composite index could not serve either).
func (q *Query) OrderByPaths() (paths []string, desc []bool, ok bool) {
	for _, ob := range q.OrderBy {
		p, isPath := propertyPath(ob.Expr)
		if !isPath {
			return nil, nil, false
		}
		paths = append(paths, p)
		desc = append(desc, ob.Desc)
	}
	return paths, desc, true
}

func propertyPath(e Expr) (string, bool) {
	switch x := e.(type) {
	case *Root:
		return "", x.Index == 0
	case *Member:
		base, ok := propertyPath(x.Base)
		return base + "/" + x.Name, ok
	}
	return "", false
}
