package entraemu

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/contoso/orderflow/localazure/authz"
)

// assertionClaims are the claims of a client assertion that Entra looks at.
// aud may be a string or an array of strings.
type assertionClaims struct {
	Issuer    string    `json:"iss"`
	Subject   string    `json:"sub"`
	Audience  audiences `json:"aud"`
	Expires   *int64    `json:"exp"`
	NotBefore *int64    `json:"nbf"`
	IssuedAt  *int64    `json:"iat"`
}

type audiences []string

func (a *audiences) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audiences{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// assertionSkew is how far Entra lets an assertion's time claims be off.
const assertionSkew = 5 * time.Minute

// checkAssertion validates a federated client assertion for workload the way Entra
// does: the issuer must be trusted by one of the workload's federated credentials, the
// signature must verify with a key from that issuer's JWKS, the token must be within
// its lifetime, and one credential must match issuer, subject and audience exactly.
func (s *Server) checkAssertion(wl *Workload, assertion string) error {
	// The issuer decides where the keys come from, so it is read before any key is.
	peek, err := peekClaims(assertion)
	if err != nil {
		return malformedAssertion()
	}
	var byIssuer []FederatedCredential
	for _, f := range wl.FederatedCredentials {
		if f.Issuer == peek.Issuer {
			byIssuer = append(byIssuer, f)
		}
	}
	if len(byIssuer) == 0 {
		return issuerNotTrusted(peek.Issuer)
	}
	keyFor, ok := s.oidcKeys[peek.Issuer]
	if !ok {
		// Entra would fetch <iss>/.well-known/openid-configuration; nothing but the
		// local issuer is reachable from here.
		return issuerUnreachable(peek.Issuer)
	}
	var c assertionClaims
	if _, err := authz.ParseRS256(assertion, keyFor, &c); err != nil {
		if errors.Is(err, authz.ErrSignature) {
			return badSignature()
		}
		return malformedAssertion()
	}
	now := s.now()
	nbf, exp := time.Unix(0, 0), time.Unix(0, 0)
	if c.NotBefore != nil {
		nbf = time.Unix(*c.NotBefore, 0)
	}
	if c.Expires != nil {
		exp = time.Unix(*c.Expires, 0)
	}
	if c.Expires == nil || now.After(exp.Add(assertionSkew)) || now.Add(assertionSkew).Before(nbf) {
		return assertionTimeRange(now, nbf, exp)
	}
	var bySubject []FederatedCredential
	for _, f := range byIssuer {
		if f.Subject == c.Subject {
			bySubject = append(bySubject, f)
		}
	}
	if len(bySubject) == 0 {
		return subjectNotTrusted(c.Subject)
	}
	audMatch := false
	for _, f := range bySubject {
		for _, want := range f.Audiences {
			for _, got := range c.Audience {
				if got == want {
					return nil
				}
			}
		}
	}
	for _, f := range byIssuer {
		for _, want := range f.Audiences {
			for _, got := range c.Audience {
				audMatch = audMatch || got == want
			}
		}
	}
	aud := strings.Join(c.Audience, ",")
	if !audMatch {
		return audienceNotTrusted(aud)
	}
	// Subject and audience each match some credential of this issuer, but not one together.
	return noMatchingRecord(c.Issuer, c.Subject, aud)
}

// peekClaims decodes a compact JWS's claims without verifying it.
func peekClaims(token string) (assertionClaims, error) {
	var c assertionClaims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, authz.ErrMalformed
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, authz.ErrMalformed
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Issuer == "" {
		return c, authz.ErrMalformed
	}
	return c, nil
}
