package servicebusemu

import (
	"strings"
	"time"

	"github.com/contoso/orderflow/localazure/amqp"
)

// cbsResponse answers a put-token request on the $cbs node (claims-based
// security, the AMQP CBS draft): the token is verified and, if good, recorded for
// the audience it names, for this connection only.
func (h *connHandler) cbsResponse(req *amqp.Message) *amqp.Message {
	status, desc := h.putToken(req)
	return &amqp.Message{ApplicationProperties: map[string]any{
		"status-code":        int32(status),
		"status-description": desc,
	}}
}

func (h *connHandler) putToken(req *amqp.Message) (int, string) {
	op, _ := req.ApplicationProperties["operation"].(string)
	if op != "put-token" {
		return 400, "unsupported operation '" + op + "'; $cbs supports put-token"
	}
	typ, _ := req.ApplicationProperties["type"].(string)
	name, _ := req.ApplicationProperties["name"].(string)
	token, ok := req.Value.(string)
	if !ok || name == "" {
		return 400, "put-token needs the token as an amqp-value string and the audience in 'name'"
	}
	if p := entityPath(name); p != "" {
		if _, ok := h.b.resolve(p); !ok {
			// Service Bus answers a token for an unknown entity with 404, which
			// clients report as "entity not found".
			return 404, "The messaging entity '" + name + "' could not be found."
		}
	}
	now := time.Now()
	var g grant
	var err error
	switch {
	case typ == "servicebus.windows.net:sastoken" || strings.HasPrefix(token, "SharedAccessSignature "):
		g, err = h.b.verifySAS(token, now)
		if err == nil && !covers(g.audience, entityPath(name)) {
			return 401, "InvalidSignature: the token's resource '" + g.audience + "' does not cover '" + name + "'"
		}
	case typ == "jwt" || strings.Count(token, ".") == 2:
		// The grant lasts as long as the token says (its exp), whatever the
		// request's optional expiration property claims: that is the client's
		// notion, and a client may leave it out or compute it differently.
		g, err = h.b.verifyJWT(token, now)
	default:
		return 400, "unsupported token type '" + typ + "'"
	}
	if err != nil {
		h.b.log.Debug("put-token refused", "name", name, "err", err)
		return 401, "Unauthorized: " + err.Error()
	}
	// A token for "<entity>/$management" is as good as one for the entity: the
	// operations on the management node are checked against the entity's rights.
	g.audience, _ = strings.CutSuffix(entityPath(name), "/$management")
	h.mu.Lock()
	// Replace an earlier token for the same audience (refreshes before expiry).
	// A new slice: authorize reads the old one without the lock.
	keep := make([]grant, 0, len(h.grants)+1)
	for _, old := range h.grants {
		if old.audience != g.audience && now.Before(old.expires) {
			keep = append(keep, old)
		}
	}
	h.grants = append(keep, g)
	h.mu.Unlock()
	return 202, "Accepted"
}
