package servicebusemu

import (
	"fmt"
	"strings"

	"github.com/contoso/orderflow/localazure/amqp"
)

// sessionRequest is what a session receiver asked for in its source's
// com.microsoft:session-filter. Clients spell it differently: the Go and Java
// clients send a described value (descriptor 0x137000000C or the symbol), the .NET
// (Microsoft.Azure.Amqp FilterSet) and Python (uamqp, pyamqp) clients a plain
// string, and a null value asks for the next available session. The answering
// attach uses the client's own spelling, since each client reads it back as it wrote it.
type sessionRequest struct {
	key        any // the filter-set key as the client sent it
	descriptor any // nil: a plain value
	id         *string
}

// sessionRequestOf finds the session filter in a source's filter set; ok is false
// when there is none (a receiver that is not a session receiver).
func sessionRequestOf(filter map[any]any) (req sessionRequest, ok bool, err error) {
	for k, v := range filter {
		var name string
		switch x := k.(type) {
		case amqp.Symbol:
			name = string(x)
		case string:
			name = x
		default:
			continue
		}
		if !strings.EqualFold(name, string(sessionFilterName)) {
			continue
		}
		req.key = k
		if d, isDescribed := v.(*amqp.Described); isDescribed {
			req.descriptor, v = d.Descriptor, d.Value
		}
		switch x := v.(type) {
		case nil:
		case string:
			req.id = &x
		case amqp.Symbol:
			s := string(x)
			req.id = &s
		default:
			return req, true, fmt.Errorf("the session filter's value is a %T; a session id is a string (or null for the next available session)", v)
		}
		return req, true, nil
	}
	return req, false, nil
}

// answer is the filter value naming the session the broker locked for the receiver.
func (r sessionRequest) answer(id string) any {
	if r.descriptor == nil {
		return id
	}
	return &amqp.Described{Descriptor: r.descriptor, Value: id}
}
