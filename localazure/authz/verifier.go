package authz

import (
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Principal is the identity an access token speaks for.
type Principal struct {
	TenantID string // tid
	ObjectID string // oid: the identity's principal (object) id, which role assignments name
	ClientID string // appid: the application (client) id the token was issued to
}

// AccessClaims are the claims of the v1 access tokens the local Entra issues, the
// shape Entra gives tokens for Azure resources (Key Vault, Storage, Service Bus, Cosmos).
type AccessClaims struct {
	Issuer    string `json:"iss"`
	Audience  string `json:"aud"`
	Subject   string `json:"sub"`
	TenantID  string `json:"tid"`
	ObjectID  string `json:"oid"`
	AppID     string `json:"appid"`
	IDType    string `json:"idtyp,omitempty"`
	Version   string `json:"ver,omitempty"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Expires   int64  `json:"exp"`
}

// Verification failures, distinguishable with errors.Is so that each stand-in can
// answer in its own service's words.
var (
	ErrExpired  = errors.New("token is expired")
	ErrNotYet   = errors.New("token is not valid yet")
	ErrAudience = errors.New("token audience is not accepted")
	ErrIssuer   = errors.New("token issuer is not accepted")
)

// Verifier validates access tokens. Implementations are safe for concurrent use.
type Verifier interface {
	// Verify checks the signature, the issuer, nbf/exp and that aud is one of audiences
	// (compared without a trailing slash and case-insensitively), and returns the principal.
	Verify(token string, audiences ...string) (Principal, error)
}

// clockSkew is how far nbf and exp may be off, as Entra-protected services allow.
const clockSkew = 5 * time.Minute

// TokenVerifier verifies RS256 access tokens against a fixed set of public keys
// and one issuer. Validated tokens are cached by hash until they expire, since an
// RSA verification costs tens of microseconds on every request otherwise.
type TokenVerifier struct {
	issuer string
	keys   map[string]*rsa.PublicKey
	now    func() time.Time

	mu    sync.Mutex
	cache map[[32]byte]cached
}

type cached struct {
	claims AccessClaims
}

// NewTokenVerifier returns a verifier for tokens from issuer signed by one of keys (by kid).
func NewTokenVerifier(issuer string, keys map[string]*rsa.PublicKey) *TokenVerifier {
	return &TokenVerifier{issuer: issuer, keys: keys, now: time.Now, cache: map[[32]byte]cached{}}
}

// Verify implements Verifier.
func (v *TokenVerifier) Verify(token string, audiences ...string) (Principal, error) {
	sum := sha256.Sum256([]byte(token))
	v.mu.Lock()
	c, ok := v.cache[sum]
	v.mu.Unlock()
	if !ok {
		var claims AccessClaims
		if _, err := ParseRS256(token, func(kid string) *rsa.PublicKey { return v.keys[kid] }, &claims); err != nil {
			return Principal{}, err
		}
		if claims.Issuer != v.issuer {
			return Principal{}, fmt.Errorf("%w: %q, want %q", ErrIssuer, claims.Issuer, v.issuer)
		}
		c = cached{claims: claims}
		v.mu.Lock()
		if len(v.cache) > 10000 { // bounded: drop everything rather than track recency
			v.cache = map[[32]byte]cached{}
		}
		v.cache[sum] = c
		v.mu.Unlock()
	}
	now := v.now()
	if now.After(time.Unix(c.claims.Expires, 0).Add(clockSkew)) {
		return Principal{}, fmt.Errorf("%w: expired at %s", ErrExpired, time.Unix(c.claims.Expires, 0).UTC().Format(time.RFC3339))
	}
	if c.claims.NotBefore != 0 && now.Add(clockSkew).Before(time.Unix(c.claims.NotBefore, 0)) {
		return Principal{}, ErrNotYet
	}
	if !AudienceMatches(c.claims.Audience, audiences...) {
		return Principal{}, fmt.Errorf("%w: %q", ErrAudience, c.claims.Audience)
	}
	return Principal{TenantID: c.claims.TenantID, ObjectID: c.claims.ObjectID, ClientID: c.claims.AppID}, nil
}

// AudienceMatches reports whether aud equals one of accepted, ignoring case and a
// trailing slash (Entra issues "https://vault.azure.net" for the scope
// "https://vault.azure.net/.default", and Service Bus tokens keep a trailing slash).
func AudienceMatches(aud string, accepted ...string) bool {
	a := strings.TrimSuffix(strings.ToLower(aud), "/")
	for _, want := range accepted {
		if a == strings.TrimSuffix(strings.ToLower(want), "/") {
			return true
		}
	}
	return false
}
