package servicebusemu

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/contoso/orderflow/localazure/authz"
)

// right is what an operation needs.
type right int

const (
	rightSend right = iota
	rightListen
	rightManage
)

// String names the right as SAS policies do.
func (r right) String() string {
	return [...]string{"Send", "Listen", "Manage"}[r]
}

// grant is what one accepted put-token allows on a connection.
type grant struct {
	audience string // entity path the token was put for ("" = whole namespace)
	expires  time.Time

	// SAS: the rights of the key; scope is the sr path the signature covers.
	sas    bool
	rights map[right]bool

	// JWT: the principal, whose roles the policy holds.
	principal authz.Principal
}

// covers reports whether an audience or scope path applies to entity path p.
func covers(scope, p string) bool {
	return scope == "" || scope == p || strings.HasPrefix(p, scope+"/")
}

var errSAS = errors.New("invalid shared access signature")

// verifySAS checks a SharedAccessSignature token against the configured keys.
func (b *Broker) verifySAS(token string, now time.Time) (grant, error) {
	body, ok := strings.CutPrefix(token, "SharedAccessSignature ")
	if !ok {
		return grant{}, fmt.Errorf("%w: missing the SharedAccessSignature prefix", errSAS)
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(body, "&") {
		k, v, _ := strings.Cut(kv, "=")
		fields[strings.ToLower(k)] = v
	}
	srRaw, sigRaw, seRaw, skn := fields["sr"], fields["sig"], fields["se"], fields["skn"]
	if srRaw == "" || sigRaw == "" || seRaw == "" || skn == "" {
		return grant{}, fmt.Errorf("%w: sr, sig, se and skn are all required", errSAS)
	}
	key, ok := b.keys[skn]
	if !ok {
		name, _ := url.QueryUnescape(skn)
		if key, ok = b.keys[name]; !ok {
			return grant{}, fmt.Errorf("%w: unknown key name %q", errSAS, skn)
		}
	}
	se, err := strconv.ParseInt(seRaw, 10, 64)
	if err != nil {
		return grant{}, fmt.Errorf("%w: se %q is not a Unix time", errSAS, seRaw)
	}
	exp := time.Unix(se, 0)
	if now.After(exp) {
		return grant{}, fmt.Errorf("%w: expired at %s", errSAS, exp.UTC().Format(time.RFC3339))
	}
	sig, err := url.QueryUnescape(sigRaw)
	if err != nil {
		return grant{}, fmt.Errorf("%w: sig is not URL-encoded base64", errSAS)
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return grant{}, fmt.Errorf("%w: sig is not base64", errSAS)
	}
	srPlain, _ := url.QueryUnescape(srRaw)
	// The signature covers sr as it appears in the token; clients that sign the
	// unescaped form are accepted too.
	valid := false
	for _, sr := range []string{srRaw, srPlain} {
		mac := hmac.New(sha256.New, []byte(key.Key))
		mac.Write([]byte(sr + "\n" + seRaw))
		if hmac.Equal(mac.Sum(nil), got) {
			valid = true
			break
		}
	}
	if !valid {
		return grant{}, fmt.Errorf("%w: the signature does not match key %q", errSAS, skn)
	}
	g := grant{sas: true, expires: exp, rights: map[right]bool{}, audience: entityPath(srPlain)}
	for _, r := range key.Rights {
		switch strings.ToLower(r) {
		case "send":
			g.rights[rightSend] = true
		case "listen":
			g.rights[rightListen] = true
		case "manage":
			g.rights[rightManage], g.rights[rightSend], g.rights[rightListen] = true, true, true
		}
	}
	return g, nil
}

// verifyJWT checks an Entra access token for Service Bus; the grant expires with
// the token. The verifier allows for clock skew; the broker does not, so that a
// connection's rights end exactly when its token says.
func (b *Broker) verifyJWT(token string, now time.Time) (grant, error) {
	if b.opts.Verifier == nil {
		return grant{}, errors.New("Entra ID tokens are not accepted by this namespace (no verifier configured)")
	}
	p, err := b.opts.Verifier.Verify(token, "https://servicebus.azure.net", "https://"+b.opts.Namespace)
	if err != nil {
		return grant{}, err
	}
	exp, err := jwtExpiry(token)
	if err != nil {
		return grant{}, err
	}
	if !now.Before(exp) {
		return grant{}, fmt.Errorf("ExpiredToken: the token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	return grant{principal: p, expires: exp}, nil
}

// jwtExpiry reads the exp claim (RFC 7519 section 4.1.4, seconds since the epoch)
// of a JWT whose signature has been checked already.
func jwtExpiry(token string) (time.Time, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, errors.New("the token is not a JWT (header.payload.signature)")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, fmt.Errorf("the token's payload is not base64url: %w", err)
	}
	var claims struct {
		Exp *json.Number `json:"exp"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return time.Time{}, fmt.Errorf("the token's payload is not a JSON object: %w", err)
	}
	if claims.Exp == nil {
		return time.Time{}, errors.New("the token has no exp claim")
	}
	exp, err := claims.Exp.Float64()
	if err != nil {
		return time.Time{}, fmt.Errorf("the token's exp %q is not a number", claims.Exp.String())
	}
	return time.Unix(int64(exp), 0), nil
}

// roles that allow each right in Azure RBAC.
func rolesFor(r right) []string {
	switch r {
	case rightSend:
		return []string{authz.ServiceBusDataSender, authz.ServiceBusDataOwner}
	case rightListen:
		return []string{authz.ServiceBusDataReceiver, authz.ServiceBusDataOwner}
	}
	return []string{authz.ServiceBusDataOwner}
}

// allows reports whether g grants r on entity path p with RBAC scope.
func (b *Broker) allows(g grant, r right, p, scope string, now time.Time) bool {
	if now.After(g.expires) || !covers(g.audience, p) {
		return false
	}
	if g.sas {
		return g.rights[r]
	}
	if b.opts.Policy == nil {
		return false
	}
	// No request context here: AMQP authorizes per link, so the decision is
	// recorded at once, without an HTTP status.
	return b.opts.Policy.Check(context.Background(), authz.Request{Service: "servicebus", Operation: r.String(), Scope: scope, Principal: g.principal, Roles: rolesFor(r)})
}
