package servicebusemu

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// filter decides whether a message published to a topic reaches a subscription.
type filter interface {
	match(m *msgData) bool
}

type trueFilter struct{}

func (trueFilter) match(*msgData) bool { return true }

type falseFilter struct{}

func (falseFilter) match(*msgData) bool { return false }

// correlationFilter matches when every set field equals the message's
// (Service Bus compares strings case-sensitively, application properties by value).
type correlationFilter struct{ f CorrelationFilter }

func (c correlationFilter) match(m *msgData) bool {
	f := c.f
	checks := []struct{ want, got string }{
		{f.ContentType, m.contentType}, {f.CorrelationID, m.correlationID}, {f.Label, m.subject},
		{f.MessageID, m.messageID}, {f.ReplyTo, m.replyTo}, {f.ReplyToSessionID, m.replyToSessionID},
		{f.SessionID, m.sessionID}, {f.To, m.to},
	}
	for _, ch := range checks {
		if ch.want != "" && ch.want != ch.got {
			return false
		}
	}
	for k, want := range f.Properties {
		got, ok := m.appProps()[k]
		if !ok || !valuesEqual(normalize(want), normalize(got)) {
			return false
		}
	}
	return true
}

// compileRule turns a configured rule into its filter and action.
func compileRule(r RuleConfig) (rule, error) {
	f, err := compileFilter(r)
	if err != nil {
		return rule{}, err
	}
	out := rule{filter: f}
	if r.Properties.Action != nil && strings.TrimSpace(r.Properties.Action.SqlExpression) != "" {
		a, err := parseAction(r.Properties.Action.SqlExpression)
		if err != nil {
			return rule{}, fmt.Errorf("Properties.Action.SqlExpression: %w", err)
		}
		out.action = a
	}
	return out, nil
}

func compileFilter(r RuleConfig) (filter, error) {
	switch strings.ToLower(r.Properties.FilterType) {
	case "correlation", "correlationfilter":
		if r.Properties.CorrelationFilter == nil {
			return nil, fmt.Errorf("Properties.CorrelationFilter: missing for FilterType %q; add the CorrelationFilter object", r.Properties.FilterType)
		}
		return correlationFilter{*r.Properties.CorrelationFilter}, nil
	case "sql", "sqlfilter", "":
		if r.Properties.SqlFilter == nil {
			if r.Properties.FilterType == "" {
				return nil, fmt.Errorf("Properties.FilterType: missing; use \"Sql\" or \"Correlation\"")
			}
			return nil, fmt.Errorf("Properties.SqlFilter: missing for FilterType \"Sql\"; add {\"SqlExpression\": \"...\"}")
		}
		e, err := parseSQL(r.Properties.SqlFilter.SqlExpression)
		if err != nil {
			return nil, fmt.Errorf("Properties.SqlFilter.SqlExpression: %w", err)
		}
		return sqlFilter{e}, nil
	case "true", "truefilter":
		return trueFilter{}, nil
	case "false", "falsefilter":
		return falseFilter{}, nil
	}
	return nil, fmt.Errorf("Properties.FilterType: %q is unknown; use \"Sql\" or \"Correlation\"", r.Properties.FilterType)
}

type sqlFilter struct{ e sqlExpr }

func (s sqlFilter) match(m *msgData) bool {
	v := s.e.eval(m)
	b, ok := v.(bool)
	return ok && b
}

// sqlExpr is a node of a SQL filter expression. Boolean results use nil for SQL's
// unknown, so that comparisons with missing properties behave as in SQL.
type sqlExpr interface{ eval(m *msgData) any }

type sqlLit struct{ v any }

func (l sqlLit) eval(*msgData) any { return l.v }

type sqlProp struct {
	sys  bool
	name string
}

func (p sqlProp) eval(m *msgData) any {
	if p.sys {
		switch strings.ToLower(p.name) {
		case "label", "subject":
			return nilIfEmpty(m.subject)
		case "to":
			return nilIfEmpty(m.to)
		case "messageid":
			return nilIfEmpty(m.messageID)
		case "correlationid":
			return nilIfEmpty(m.correlationID)
		case "contenttype":
			return nilIfEmpty(m.contentType)
		case "replyto":
			return nilIfEmpty(m.replyTo)
		case "sessionid":
			return nilIfEmpty(m.sessionID)
		case "replytosessionid":
			return nilIfEmpty(m.replyToSessionID)
		}
		return nil
	}
	v, ok := m.appProps()[p.name]
	if !ok {
		return nil
	}
	return normalize(v)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// normalize maps the many AMQP numeric types onto int64 and float64.
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return float64(x)
		}
		return int64(x)
	case float32:
		return float64(x)
	}
	return v
}

func valuesEqual(a, b any) bool {
	c, ok := compare(a, b)
	return ok && c == 0
}

// compare orders two normalized values; ok is false when they are not comparable.
func compare(a, b any) (int, bool) {
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return cmpOrdered(x, y), true
		case float64:
			return cmpOrdered(float64(x), y), true
		}
	case float64:
		switch y := b.(type) {
		case int64:
			return cmpOrdered(x, float64(y)), true
		case float64:
			return cmpOrdered(x, y), true
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), true
		}
	case bool:
		if y, ok := b.(bool); ok && x == y {
			return 0, true
		} else if ok {
			return 1, true
		}
	}
	return 0, false
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

type sqlCmp struct {
	op   string
	l, r sqlExpr
}

func (c sqlCmp) eval(m *msgData) any {
	a, b := c.l.eval(m), c.r.eval(m)
	if a == nil || b == nil {
		return nil
	}
	r, ok := compare(a, b)
	if !ok {
		return nil
	}
	switch c.op {
	case "=":
		return r == 0
	case "<>", "!=":
		return r != 0
	case "<":
		return r < 0
	case ">":
		return r > 0
	case "<=":
		return r <= 0
	case ">=":
		return r >= 0
	}
	return nil
}

type sqlAnd struct{ l, r sqlExpr }

func (a sqlAnd) eval(m *msgData) any {
	x, y := a.l.eval(m), a.r.eval(m)
	if x == false || y == false {
		return false
	}
	if x == true && y == true {
		return true
	}
	return nil
}

type sqlOr struct{ l, r sqlExpr }

func (o sqlOr) eval(m *msgData) any {
	x, y := o.l.eval(m), o.r.eval(m)
	if x == true || y == true {
		return true
	}
	if x == false && y == false {
		return false
	}
	return nil
}

type sqlNot struct{ e sqlExpr }

func (n sqlNot) eval(m *msgData) any {
	switch n.e.eval(m) {
	case true:
		return false
	case false:
		return true
	}
	return nil
}

type sqlIsNull struct {
	e   sqlExpr
	not bool
}

func (n sqlIsNull) eval(m *msgData) any { return (n.e.eval(m) == nil) != n.not }

type sqlIn struct {
	e    sqlExpr
	list []sqlExpr
	not  bool
}

func (n sqlIn) eval(m *msgData) any {
	v := n.e.eval(m)
	if v == nil {
		return nil
	}
	for _, it := range n.list {
		if valuesEqual(v, it.eval(m)) {
			return !n.not
		}
	}
	return n.not
}

type sqlLike struct {
	e   sqlExpr
	re  *regexp.Regexp
	not bool
}

func (n sqlLike) eval(m *msgData) any {
	s, ok := n.e.eval(m).(string)
	if !ok {
		return nil
	}
	return n.re.MatchString(s) != n.not
}

type sqlArith struct {
	op   byte
	l, r sqlExpr
}

func (a sqlArith) eval(m *msgData) any {
	x, y := a.l.eval(m), a.r.eval(m)
	if a.op == '+' {
		if xs, ok := x.(string); ok {
			if ys, ok := y.(string); ok {
				return xs + ys
			}
		}
	}
	xi, xInt := x.(int64)
	yi, yInt := y.(int64)
	if xInt && yInt {
		switch a.op {
		case '+':
			return xi + yi
		case '-':
			return xi - yi
		case '*':
			return xi * yi
		case '/':
			if yi == 0 {
				return nil
			}
			return xi / yi
		case '%':
			if yi == 0 {
				return nil
			}
			return xi % yi
		}
	}
	xf, ok1 := toFloat(x)
	yf, ok2 := toFloat(y)
	if !ok1 || !ok2 {
		return nil
	}
	switch a.op {
	case '+':
		return xf + yf
	case '-':
		return xf - yf
	case '*':
		return xf * yf
	case '/':
		return xf / yf
	}
	return nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

type sqlNeg struct{ e sqlExpr }

func (n sqlNeg) eval(m *msgData) any {
	switch x := n.e.eval(m).(type) {
	case int64:
		return -x
	case float64:
		return -x
	}
	return nil
}

// --- parser ---

type token struct {
	kind byte // 'i' identifier, 's' string, 'n' number, 'o' operator/punctuation, 'k' keyword, 0 end
	text string
}

var keywords = map[string]bool{"AND": true, "OR": true, "NOT": true, "IS": true, "NULL": true, "IN": true,
	"LIKE": true, "ESCAPE": true, "TRUE": true, "FALSE": true, "EXISTS": true}

func tokenize(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated string starting at %d", i)
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			out = append(out, token{'s', b.String()})
			i = j + 1
		case c == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unterminated [ at %d", i)
			}
			out = append(out, token{'i', s[i+1 : i+j]})
			i += j + 1
		case unicode.IsDigit(c) || (c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9'):
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
				((s[j] == '+' || s[j] == '-') && j > i && (s[j-1] == 'e' || s[j-1] == 'E'))) {
				j++
			}
			out = append(out, token{'n', s[i:j]})
			i = j
		case unicode.IsLetter(c) || c == '_' || c == '@':
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_' || s[j] == '.' || s[j] == '@' || s[j] == '-' && false) {
				j++
			}
			w := s[i:j]
			if keywords[strings.ToUpper(w)] {
				out = append(out, token{'k', strings.ToUpper(w)})
			} else {
				out = append(out, token{'i', w})
			}
			i = j
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "<>", "!=", "<=", ">=":
				out = append(out, token{'o', two})
				i += 2
				continue
			}
			if strings.ContainsRune("=<>()+-*/%,", c) {
				out = append(out, token{'o', string(c)})
				i++
				continue
			}
			return nil, fmt.Errorf("unexpected character %q at %d", c, i)
		}
	}
	return append(out, token{}), nil
}

type sqlParser struct {
	toks []token
	pos  int
}

func parseSQL(s string) (sqlExpr, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &sqlParser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != 0 {
		return nil, fmt.Errorf("unexpected %q after the expression", p.peek().text)
	}
	return e, nil
}

func (p *sqlParser) peek() token { return p.toks[p.pos] }
func (p *sqlParser) next() token { t := p.toks[p.pos]; p.pos++; return t }

func (p *sqlParser) isKw(w string) bool { t := p.peek(); return t.kind == 'k' && t.text == w }
func (p *sqlParser) isOp(o string) bool { t := p.peek(); return t.kind == 'o' && t.text == o }

func (p *sqlParser) or() (sqlExpr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isKw("OR") {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = sqlOr{l, r}
	}
	return l, nil
}

func (p *sqlParser) and() (sqlExpr, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.isKw("AND") {
		p.next()
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = sqlAnd{l, r}
	}
	return l, nil
}

func (p *sqlParser) not() (sqlExpr, error) {
	if p.isKw("NOT") {
		p.next()
		e, err := p.not()
		if err != nil {
			return nil, err
		}
		return sqlNot{e}, nil
	}
	return p.predicate()
}

func (p *sqlParser) predicate() (sqlExpr, error) {
	if p.isKw("EXISTS") {
		p.next()
		if !p.isOp("(") {
			return nil, fmt.Errorf("EXISTS needs (property)")
		}
		p.next()
		t := p.next()
		if t.kind != 'i' {
			return nil, fmt.Errorf("EXISTS needs a property name")
		}
		if !p.isOp(")") {
			return nil, fmt.Errorf("missing ) after EXISTS(%s", t.text)
		}
		p.next()
		return sqlIsNull{e: propOf(t.text), not: true}, nil
	}
	l, err := p.additive()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind == 'o' && strings.Contains("= <> != < > <= >=", t.text) && t.text != "(" && t.text != ")" && t.text != "," && !strings.ContainsAny(t.text, "+-*/%"):
		p.next()
		r, err := p.additive()
		if err != nil {
			return nil, err
		}
		return sqlCmp{op: t.text, l: l, r: r}, nil
	case t.kind == 'k' && t.text == "IS":
		p.next()
		not := false
		if p.isKw("NOT") {
			p.next()
			not = true
		}
		if !p.isKw("NULL") {
			return nil, fmt.Errorf("IS must be followed by [NOT] NULL")
		}
		p.next()
		return sqlIsNull{e: l, not: not}, nil
	case t.kind == 'k' && (t.text == "NOT" || t.text == "IN" || t.text == "LIKE"):
		not := false
		if t.text == "NOT" {
			p.next()
			not = true
		}
		switch {
		case p.isKw("IN"):
			p.next()
			if !p.isOp("(") {
				return nil, fmt.Errorf("IN needs a parenthesised list")
			}
			p.next()
			var list []sqlExpr
			for {
				e, err := p.additive()
				if err != nil {
					return nil, err
				}
				list = append(list, e)
				if p.isOp(",") {
					p.next()
					continue
				}
				if p.isOp(")") {
					p.next()
					break
				}
				return nil, fmt.Errorf("expected , or ) in IN list")
			}
			return sqlIn{e: l, list: list, not: not}, nil
		case p.isKw("LIKE"):
			p.next()
			pat := p.next()
			if pat.kind != 's' {
				return nil, fmt.Errorf("LIKE needs a string pattern")
			}
			esc := byte(0)
			if p.isKw("ESCAPE") {
				p.next()
				e := p.next()
				if e.kind != 's' || len(e.text) != 1 {
					return nil, fmt.Errorf("ESCAPE needs a one-character string")
				}
				esc = e.text[0]
			}
			re, err := likeRegexp(pat.text, esc)
			if err != nil {
				return nil, err
			}
			return sqlLike{e: l, re: re, not: not}, nil
		}
		return nil, fmt.Errorf("NOT must be followed by IN or LIKE here")
	}
	return l, nil
}

func likeRegexp(pat string, esc byte) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^(?s)")
	for i := 0; i < len(pat); i++ {
		c := pat[i]
		switch {
		case esc != 0 && c == esc && i+1 < len(pat):
			i++
			b.WriteString(regexp.QuoteMeta(string(pat[i])))
		case c == '%':
			b.WriteString(".*")
		case c == '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

func (p *sqlParser) additive() (sqlExpr, error) {
	l, err := p.term()
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") {
		op := p.next().text[0]
		r, err := p.term()
		if err != nil {
			return nil, err
		}
		l = sqlArith{op, l, r}
	}
	return l, nil
}

func (p *sqlParser) term() (sqlExpr, error) {
	l, err := p.factor()
	if err != nil {
		return nil, err
	}
	for p.isOp("*") || p.isOp("/") || p.isOp("%") {
		op := p.next().text[0]
		r, err := p.factor()
		if err != nil {
			return nil, err
		}
		l = sqlArith{op, l, r}
	}
	return l, nil
}

func (p *sqlParser) factor() (sqlExpr, error) {
	t := p.next()
	switch t.kind {
	case 's':
		return sqlLit{t.text}, nil
	case 'n':
		if i, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			return sqlLit{i}, nil
		}
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", t.text)
		}
		return sqlLit{f}, nil
	case 'i':
		return propOf(t.text), nil
	case 'k':
		switch t.text {
		case "TRUE":
			return sqlLit{true}, nil
		case "FALSE":
			return sqlLit{false}, nil
		case "NULL":
			return sqlLit{nil}, nil
		}
	case 'o':
		switch t.text {
		case "(":
			e, err := p.or()
			if err != nil {
				return nil, err
			}
			if !p.isOp(")") {
				return nil, fmt.Errorf("missing )")
			}
			p.next()
			return e, nil
		case "-":
			e, err := p.factor()
			if err != nil {
				return nil, err
			}
			return sqlNeg{e}, nil
		}
	case 0:
		return nil, fmt.Errorf("unexpected end of expression")
	}
	return nil, fmt.Errorf("unexpected %q", t.text)
}

func propOf(name string) sqlProp {
	lower := strings.ToLower(name)
	switch {
	case strings.HasPrefix(lower, "sys."):
		return sqlProp{sys: true, name: name[4:]}
	case strings.HasPrefix(lower, "user."):
		return sqlProp{name: name[5:]}
	}
	return sqlProp{name: name}
}
