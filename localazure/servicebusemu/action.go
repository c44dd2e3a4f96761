package servicebusemu

import (
	"fmt"
	"strings"

	"github.com/contoso/orderflow/localazure/amqp"
)

// rule is a compiled subscription rule: its filter and optional action.
type rule struct {
	filter filter
	action *sqlAction
}

// sqlAction is a rule action: SET and REMOVE statements applied to the copy of
// a message a subscription receives.
type sqlAction struct{ steps []actionStep }

type actionStep struct {
	remove bool
	target sqlProp
	expr   sqlExpr
}

// parseAction parses "SET a = expr; SET sys.Label = 'x'; REMOVE b" (statements
// separated by ';').
func parseAction(s string) (*sqlAction, error) {
	a := &sqlAction{}
	for _, stmt := range strings.Split(s, ";") {
		stmt = strings.TrimSpace(stmt)
		if stmt == "" {
			continue
		}
		toks, err := tokenize(stmt)
		if err != nil {
			return nil, err
		}
		if len(toks) < 3 || toks[0].kind != 'i' || toks[1].kind != 'i' {
			return nil, fmt.Errorf("%q: want SET <property> = <expression> or REMOVE <property>", stmt)
		}
		verb, target := strings.ToUpper(toks[0].text), propOf(toks[1].text)
		switch verb {
		case "REMOVE":
			if len(toks) != 3 {
				return nil, fmt.Errorf("%q: REMOVE takes one property", stmt)
			}
			a.steps = append(a.steps, actionStep{remove: true, target: target})
		case "SET":
			if toks[2].kind != 'o' || toks[2].text != "=" {
				return nil, fmt.Errorf("%q: missing = after the property", stmt)
			}
			p := &sqlParser{toks: toks[3:]}
			e, err := p.or()
			if err != nil {
				return nil, fmt.Errorf("%q: %w", stmt, err)
			}
			if p.peek().kind != 0 {
				return nil, fmt.Errorf("%q: unexpected %q", stmt, p.peek().text)
			}
			if target.sys && sysField(target.name) == nil {
				return nil, fmt.Errorf("%q: sys.%s cannot be set", stmt, target.name)
			}
			a.steps = append(a.steps, actionStep{target: target, expr: e})
		default:
			return nil, fmt.Errorf("%q: unknown statement %s; use SET or REMOVE", stmt, toks[0].text)
		}
	}
	if len(a.steps) == 0 {
		return nil, nil
	}
	return a, nil
}

// sysField returns a setter for the system properties an action may change.
func sysField(name string) func(p *amqp.Properties, v string) {
	switch strings.ToLower(name) {
	case "label", "subject":
		return func(p *amqp.Properties, v string) { p.Subject = v }
	case "to":
		return func(p *amqp.Properties, v string) { p.To = v }
	case "replyto":
		return func(p *amqp.Properties, v string) { p.ReplyTo = v }
	case "correlationid":
		return func(p *amqp.Properties, v string) { p.CorrelationID = v }
	case "contenttype":
		return func(p *amqp.Properties, v string) { p.ContentType = amqp.Symbol(v) }
	case "sessionid":
		return func(p *amqp.Properties, v string) { p.GroupID = v }
	case "replytosessionid":
		return func(p *amqp.Properties, v string) { p.ReplyToGroupID = v }
	}
	return nil
}

// apply returns the message as the action leaves it; the original, shared
// with other subscriptions, is unchanged. Expressions see the original values.
func (a *sqlAction) apply(d *msgData) *msgData {
	props := make(map[string]any, len(d.appProps())+len(a.steps))
	for k, v := range d.appProps() {
		props[k] = v
	}
	var sys *amqp.Properties
	for _, st := range a.steps {
		switch {
		case st.remove && !st.target.sys:
			delete(props, st.target.name)
		case !st.target.sys:
			if v := st.expr.eval(d); v != nil {
				props[st.target.name] = v
			} else {
				delete(props, st.target.name)
			}
		default:
			if sys == nil {
				sys = &amqp.Properties{}
				if d.msg.Properties != nil {
					*sys = *d.msg.Properties
				}
			}
			v, _ := st.expr.eval(d).(string)
			if set := sysField(st.target.name); set != nil && !st.remove {
				set(sys, v)
			}
		}
	}
	m := *d.msg
	m.ApplicationProperties = props
	m.TouchApplicationProperties()
	if sys != nil {
		m.Properties = sys
		m.TouchProperties()
	}
	nd := dataOf(&m, d.size)
	nd.hops = d.hops
	return nd
}
