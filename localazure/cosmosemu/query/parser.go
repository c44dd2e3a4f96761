package query

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxQueryLength is the service's maxSqlQueryInputLength.
const MaxQueryLength = 262144

// parser is a recursive-descent parser over the token slice. Errors are reported by
// panicking with *Error and recovered in Parse, which keeps every rule short.
type parser struct {
	src   string
	toks  []token
	i     int
	alias string
	nAuto int // unnamed projections become $1, $2, ... as in Cosmos
	depth int // expression nesting, bounded so that no query can exhaust the stack
}

// Limits the service advertises in queryEngineConfiguration, enforced so that no
// query can make the evaluator's work explode.
const (
	maxJoins   = 5
	maxInItems = 16000
	maxNesting = 128
)

// enter guards recursion; the caller defers p.leave().
func (p *parser) enter() {
	p.depth++
	if p.depth > maxNesting {
		t := p.peek()
		panic(&Error{Pos: t.pos, End: t.end, Code: "SC1001",
			Message: fmt.Sprintf("The query is nested too deeply (more than %d levels) at position %d.", maxNesting, t.pos)})
	}
}

func (p *parser) leave() { p.depth-- }

// Parse compiles a query text. The returned error is an *Error locating the problem.
func Parse(src string) (q *Query, err error) {
	if len(src) > MaxQueryLength {
		return nil, &Error{Code: "SC1000", Message: fmt.Sprintf("The SQL query text exceeded the maximum limit of %d characters.", MaxQueryLength)}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			q, err = nil, e
		}
	}()
	q = p.parseSelect()
	if t := p.peek(); t.kind != tokEOF {
		p.fail(t)
	}
	if err := resolve(q, nil); err != nil {
		return nil, err
	}
	q.analyseAccess()
	return q, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) fail(t token) { panic(syntaxErr(p.src, t.pos, t.end)) }

func (p *parser) acceptKeyword(kw string) bool {
	if p.peek().isKeyword(kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectKeyword(kw string) token {
	t := p.next()
	if !t.isKeyword(kw) {
		p.fail(t)
	}
	return t
}

func (p *parser) acceptOp(op string) bool {
	if p.peek().isOp(op) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectOp(op string) token {
	t := p.next()
	if !t.isOp(op) {
		p.fail(t)
	}
	return t
}

func (p *parser) unsupported(t token, what string) {
	panic(&Error{Pos: t.pos, End: t.end, Code: "SC2204",
		Message: fmt.Sprintf("%s is not supported by the local Cosmos DB stand-in (at position %d).", what, t.pos)})
}

// parseSelect: SELECT [DISTINCT] [TOP n] projection [FROM ...] [WHERE ...]
// [GROUP BY ...] [ORDER BY ...] [OFFSET m LIMIT n]
func (p *parser) parseSelect() *Query {
	q := &Query{}
	p.expectKeyword("SELECT")
	if p.acceptKeyword("DISTINCT") {
		q.Distinct = true
	}
	if p.acceptKeyword("TOP") {
		t := p.peek()
		switch t.kind {
		case tokNumber:
			p.i++
			q.Top = &Lit{Val: t.num, P: t.pos}
		case tokParam:
			p.i++
			q.Top = &Param{Name: t.text, P: t.pos}
		default:
			p.fail(t)
		}
	}
	switch {
	case p.acceptOp("*"):
		q.SelectStar = true
	case p.acceptKeyword("VALUE"):
		q.SelectValue = true
		q.Items = []SelectItem{{Expr: p.parseExpr()}}
	default:
		for {
			q.Items = append(q.Items, p.parseSelectItem())
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.acceptKeyword("FROM") {
		p.parseFrom(q)
	}
	if p.acceptKeyword("WHERE") {
		q.Where = p.parseExpr()
	}
	if p.acceptKeyword("GROUP") {
		p.expectKeyword("BY")
		for {
			q.GroupBy = append(q.GroupBy, p.parseExpr())
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.acceptKeyword("ORDER") {
		p.expectKeyword("BY")
		for {
			it := OrderItem{Expr: p.parseExpr()}
			if p.acceptKeyword("DESC") {
				it.Desc = true
			} else {
				p.acceptKeyword("ASC")
			}
			q.OrderBy = append(q.OrderBy, it)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.acceptKeyword("OFFSET") {
		q.Offset = p.parseIntArg()
		p.expectKeyword("LIMIT")
		q.Limit = p.parseIntArg()
	}
	return q
}

func (p *parser) parseIntArg() Expr {
	t := p.next()
	switch t.kind {
	case tokNumber:
		return &Lit{Val: t.num, P: t.pos}
	case tokParam:
		return &Param{Name: t.text, P: t.pos}
	}
	p.fail(t)
	return nil
}

func (p *parser) parseSelectItem() SelectItem {
	e := p.parseExpr()
	it := SelectItem{Expr: e}
	if p.acceptKeyword("AS") {
		t := p.next()
		if t.kind != tokIdent || keywords[strings.ToUpper(t.text)] {
			p.fail(t)
		}
		it.Name = t.text
	} else if t := p.peek(); t.kind == tokIdent && !keywords[strings.ToUpper(t.text)] {
		p.i++
		it.Name = t.text
	}
	if it.Name == "" {
		switch m := e.(type) {
		case *Member:
			it.Name = m.Name
		case *ident:
			it.Name = m.name
		default:
			p.nAuto++
			it.Name = "$" + strconv.Itoa(p.nAuto)
		}
	}
	return it
}

// parseFrom: FROM [ROOT | container] [[AS] alias] {JOIN alias IN expr}, or
// FROM alias IN container.path {JOIN ...}.
func (p *parser) parseFrom(q *Query) {
	t := p.next()
	if t.kind != tokIdent || keywords[strings.ToUpper(t.text)] {
		p.fail(t)
	}
	if p.peek().isKeyword("IN") { // FROM t IN c.tags
		p.i++
		in := p.parseFromPath()
		q.Alias = rootName(in)
		q.Joins = append(q.Joins, Join{Alias: t.text, In: in})
		q.hideRoot = true
	} else {
		q.Alias = t.text
		if p.acceptKeyword("AS") {
			a := p.next()
			if a.kind != tokIdent || keywords[strings.ToUpper(a.text)] {
				p.fail(a)
			}
			q.Alias = a.text
		} else if a := p.peek(); a.kind == tokIdent && !keywords[strings.ToUpper(a.text)] {
			p.i++
			q.Alias = a.text
		}
		if j := p.peek(); j.isOp(".") || j.isOp("[") {
			p.unsupported(j, "FROM over a sub-document")
		}
	}
	for p.acceptKeyword("JOIN") {
		a := p.next()
		if a.kind != tokIdent || keywords[strings.ToUpper(a.text)] {
			p.fail(a)
		}
		p.expectKeyword("IN")
		q.Joins = append(q.Joins, Join{Alias: a.text, In: p.parseFromPath()})
		if len(q.Joins) > maxJoins+1 || len(q.Joins) > maxJoins && !q.hideRoot {
			panic(&Error{Pos: a.pos, End: a.end, Code: "SC2004",
				Message: fmt.Sprintf("The query has more than the maximum of %d JOINs (at position %d).", maxJoins, a.pos)})
		}
	}
	p.alias = q.Alias
}

// parseSubquery parses a nested SELECT; the enclosing query's FROM alias is
// saved and restored around it.
func (p *parser) parseSubquery() *Query {
	saved, savedAuto := p.alias, p.nAuto
	p.nAuto = 0
	q := p.parseSelect()
	p.alias, p.nAuto = saved, savedAuto
	return q
}

// parseFromPath parses the collection expression after IN: a path rooted at an
// identifier (c.tags, c["items"], c.a.b).
func (p *parser) parseFromPath() Expr {
	t := p.peek()
	if t.kind != tokIdent || keywords[strings.ToUpper(t.text)] {
		if t.isOp("(") {
			p.unsupported(t, "A subquery in FROM")
		}
		p.fail(t)
	}
	p.i++
	return p.parsePostfix(&ident{name: t.text, P: t.pos, end: t.end})
}

// rootName is the identifier a path starts from.
func rootName(e Expr) string {
	for {
		switch x := e.(type) {
		case *Member:
			e = x.Base
		case *Index:
			e = x.Base
		case *ident:
			return x.name
		default:
			return ""
		}
	}
}

// Expression grammar, lowest precedence first:
// ternary/coalesce, OR, AND, NOT, comparison/IN/BETWEEN, ||, + -, * / %, unary, postfix.
func (p *parser) parseExpr() Expr {
	p.enter()
	defer p.leave()
	e := p.parseCoalesce()
	if t := p.peek(); t.isOp("?") {
		p.i++
		a := p.parseExpr()
		p.expectOp(":")
		b := p.parseExpr()
		return &Ternary{Cond: e, A: a, B: b, P: t.pos}
	}
	return e
}

func (p *parser) parseCoalesce() Expr {
	e := p.parseOr()
	for {
		t := p.peek()
		if !t.isOp("??") {
			return e
		}
		p.i++
		e = &Binary{Op: "??", L: e, R: p.parseOr(), P: t.pos}
	}
}

func (p *parser) parseOr() Expr {
	e := p.parseAnd()
	for {
		t := p.peek()
		if !t.isKeyword("OR") {
			return e
		}
		p.i++
		e = &Binary{Op: "OR", L: e, R: p.parseAnd(), P: t.pos}
	}
}

func (p *parser) parseAnd() Expr {
	e := p.parseNot()
	for {
		t := p.peek()
		if !t.isKeyword("AND") {
			return e
		}
		p.i++
		e = &Binary{Op: "AND", L: e, R: p.parseNot(), P: t.pos}
	}
}

func (p *parser) parseNot() Expr {
	p.enter()
	defer p.leave()
	if t := p.peek(); t.isKeyword("NOT") {
		p.i++
		return &Unary{Op: "NOT", X: p.parseNot(), P: t.pos}
	}
	return p.parseComparison()
}

func (p *parser) parseComparison() Expr {
	e := p.parseConcat()
	for {
		t := p.peek()
		switch {
		case t.kind == tokOp && (t.text == "=" || t.text == "!=" || t.text == "<>" || t.text == "<" ||
			t.text == "<=" || t.text == ">" || t.text == ">="):
			p.i++
			op := t.text
			if op == "<>" {
				op = "!="
			}
			e = &Binary{Op: op, L: e, R: p.parseConcat(), P: t.pos}
		case t.isKeyword("NOT") && (p.toks[p.i+1].isKeyword("IN") || p.toks[p.i+1].isKeyword("BETWEEN") || p.toks[p.i+1].isKeyword("LIKE")):
			p.i++
			e = p.parseInBetween(e, true)
		case t.isKeyword("IN") || t.isKeyword("BETWEEN"):
			e = p.parseInBetween(e, false)
		case t.isKeyword("LIKE"):
			e = p.parseInBetween(e, false)
		default:
			return e
		}
	}
}

func (p *parser) parseInBetween(x Expr, not bool) Expr {
	t := p.next()
	if t.isKeyword("LIKE") {
		l := &Like{X: x, Pattern: p.parseConcat(), Not: not, P: t.pos}
		if p.acceptKeyword("ESCAPE") {
			l.Esc = p.parseConcat()
		}
		return l
	}
	if t.isKeyword("IN") {
		p.expectOp("(")
		in := &In{X: x, Not: not, P: t.pos}
		if !p.peek().isOp(")") {
			for {
				in.List = append(in.List, p.parseExpr())
				if len(in.List) > maxInItems {
					panic(&Error{Pos: t.pos, End: t.end, Code: "SC2006",
						Message: fmt.Sprintf("The IN list has more than the maximum of %d items (at position %d).", maxInItems, t.pos)})
				}
				if !p.acceptOp(",") {
					break
				}
			}
		}
		p.expectOp(")")
		return in
	}
	lo := p.parseConcat()
	p.expectKeyword("AND")
	hi := p.parseConcat()
	return &Between{X: x, Lo: lo, Hi: hi, Not: not, P: t.pos}
}

func (p *parser) parseConcat() Expr {
	e := p.parseAdditive()
	for {
		t := p.peek()
		if !t.isOp("||") {
			return e
		}
		p.i++
		e = &Binary{Op: "||", L: e, R: p.parseAdditive(), P: t.pos}
	}
}

func (p *parser) parseAdditive() Expr {
	e := p.parseMultiplicative()
	for {
		t := p.peek()
		if !(t.isOp("+") || t.isOp("-")) {
			return e
		}
		p.i++
		e = &Binary{Op: t.text, L: e, R: p.parseMultiplicative(), P: t.pos}
	}
}

func (p *parser) parseMultiplicative() Expr {
	e := p.parseUnary()
	for {
		t := p.peek()
		if !(t.isOp("*") || t.isOp("/") || t.isOp("%")) {
			return e
		}
		p.i++
		e = &Binary{Op: t.text, L: e, R: p.parseUnary(), P: t.pos}
	}
}

func (p *parser) parseUnary() Expr {
	p.enter()
	defer p.leave()
	t := p.peek()
	if t.isOp("-") || t.isOp("+") || t.isOp("~") {
		p.i++
		x := p.parseUnary()
		if l, ok := x.(*Lit); ok && t.text == "-" {
			if f, ok := l.Val.(float64); ok {
				return &Lit{Val: -f, P: t.pos}
			}
		}
		return &Unary{Op: t.text, X: x, P: t.pos}
	}
	return p.parsePostfix(p.parsePrimary())
}

func (p *parser) parsePostfix(e Expr) Expr {
	for {
		t := p.peek()
		switch {
		case t.isOp("."):
			p.i++
			n := p.next()
			if n.kind != tokIdent {
				p.fail(n)
			}
			e = &Member{Base: e, Name: n.text, P: e.pos()}
		case t.isOp("["):
			p.i++
			ix := p.parseExpr()
			p.expectOp("]")
			if l, ok := ix.(*Lit); ok {
				if s, ok := l.Val.(string); ok {
					e = &Member{Base: e, Name: s, P: e.pos()}
					continue
				}
			}
			e = &Index{Base: e, Index: ix, P: e.pos()}
		default:
			return e
		}
	}
}

func (p *parser) parsePrimary() Expr {
	t := p.next()
	switch t.kind {
	case tokNumber:
		return &Lit{Val: t.num, P: t.pos}
	case tokString:
		return &Lit{Val: t.text, P: t.pos}
	case tokParam:
		return &Param{Name: t.text, P: t.pos}
	case tokOp:
		switch t.text {
		case "(":
			if p.peek().isKeyword("SELECT") {
				sq := p.parseSubquery()
				p.expectOp(")")
				return &Subquery{Q: sq, Kind: "SCALAR", P: t.pos}
			}
			e := p.parseExpr()
			p.expectOp(")")
			return e
		case "[":
			a := &ArrayLit{P: t.pos}
			if !p.peek().isOp("]") {
				for {
					a.Elems = append(a.Elems, p.parseExpr())
					if !p.acceptOp(",") {
						break
					}
				}
			}
			p.expectOp("]")
			return a
		case "{":
			o := &ObjectLit{P: t.pos}
			if !p.peek().isOp("}") {
				for {
					k := p.next()
					if k.kind != tokString && k.kind != tokIdent {
						p.fail(k)
					}
					p.expectOp(":")
					o.Keys = append(o.Keys, k.text)
					o.Vals = append(o.Vals, p.parseExpr())
					if !p.acceptOp(",") {
						break
					}
				}
			}
			p.expectOp("}")
			return o
		}
	case tokIdent:
		up := strings.ToUpper(t.text)
		switch up {
		case "TRUE":
			return &Lit{Val: true, P: t.pos}
		case "FALSE":
			return &Lit{Val: false, P: t.pos}
		case "NULL":
			return &Lit{Val: nil, P: t.pos}
		case "UNDEFINED":
			return &Lit{Val: Undefined, P: t.pos}
		case "EXISTS", "ARRAY":
			if p.peek().isOp("(") && p.toks[p.i+1].isKeyword("SELECT") {
				p.i++
				sq := p.parseSubquery()
				p.expectOp(")")
				return &Subquery{Q: sq, Kind: up, P: t.pos}
			}
		}
		if p.peek().isOp("(") {
			if keywords[up] {
				p.fail(t)
			}
			p.i++
			c := &Call{Name: up, P: t.pos}
			if strings.HasPrefix(up, "UDF") {
				p.unsupported(t, "User-defined functions")
			}
			if !p.peek().isOp(")") {
				for {
					c.Args = append(c.Args, p.parseExpr())
					if !p.acceptOp(",") {
						break
					}
				}
			}
			p.expectOp(")")
			return c
		}
		if keywords[up] {
			p.fail(t)
		}
		return &ident{name: t.text, P: t.pos, end: t.end}
	}
	p.fail(t)
	return nil
}

// ident is an unresolved identifier; resolve turns it into Root or reports SC2001.
type ident struct {
	name   string
	P, end int
}

func (e *ident) pos() int { return e.P }
