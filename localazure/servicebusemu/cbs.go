package servicebusemu

import (
	"errors"
	"strings"
	"time"

	"github.com/contoso/orderflow/localazure/amqp"
	"github.com/contoso/orderflow/localazure/authz"
)

// unknownKeyDescription words a token signed by a key the local Entra no longer has.
// Clients report any 401 as "unauthorized access", which reads like a missing role;
// this is not one, and no role assignment fixes it.
func unknownKeyDescription(err error) string {
	return "Unauthorized: the token's signing key (kid) is unknown to this local Service Bus stand-in (" + err.Error() +
		"). It is most likely a token issued before localazure restarted (the local Entra makes new signing keys at every start) " +
		"and still cached by the client. This is not a role assignment problem: get a new token, i.e. restart the workload."
}

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
		desc := "Unauthorized: " + err.Error()
		if errors.Is(err, authz.ErrUnknownKey) {
			desc = unknownKeyDescription(err)
		}
		// Kept for the attach that may follow: a client that ignores the put-token
		// answer learns the reason there rather than "no valid token".
		h.mu.Lock()
		h.lastRefusal = desc
		h.mu.Unlock()
		return 401, desc
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
