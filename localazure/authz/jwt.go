package authz

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

var b64 = base64.RawURLEncoding

// jwtHeader is the JOSE header of the RS256 tokens the local identity provider
// mints and verifies; other algorithms are refused rather than negotiated.
type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid,omitempty"`
}

// SignRS256 serialises claims as a compact JWS signed with key, naming kid in the header.
func SignRS256(key *rsa.PrivateKey, kid string, claims any) (string, error) {
	h, err := json.Marshal(jwtHeader{Alg: "RS256", Typ: "JWT", Kid: kid})
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	signing := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return signing + "." + b64.EncodeToString(sig), nil
}

// ErrMalformed reports a token that is not a compact RS256 JWS.
var ErrMalformed = errors.New("malformed token")

// ErrSignature reports a token whose signature does not verify with any known key.
var ErrSignature = errors.New("token signature is invalid")

// ErrUnknownKey reports a token signed by a key id (kid) the verifier does not hold.
// The local identity provider makes new signing keys at every start, so this is
// nearly always a token issued before a restart, still cached by a workload: the fix
// is a new token, not a role assignment. Errors carrying it also match ErrSignature,
// so callers that only tell good from bad signatures are unchanged.
var ErrUnknownKey = errors.New("token signing key (kid) is unknown")

// unknownKeyError names the kid, and is both ErrUnknownKey and ErrSignature.
type unknownKeyError struct{ kid string }

func (e unknownKeyError) Error() string {
	return fmt.Sprintf("%v: the token names kid %q, which no current signing key has", ErrUnknownKey, e.kid)
}

func (e unknownKeyError) Is(target error) bool {
	return target == ErrUnknownKey || target == ErrSignature
}

// ParseRS256 checks the signature of a compact JWS with the key that keyFor returns
// for its kid and decodes the claims into dst. It does not look at any claim.
func ParseRS256(token string, keyFor func(kid string) *rsa.PublicKey, dst any) (kid string, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", ErrMalformed
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return "", fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	var h jwtHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return "", fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if h.Alg != "RS256" {
		return h.Kid, fmt.Errorf("%w: alg %q is not RS256", ErrMalformed, h.Alg)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return h.Kid, fmt.Errorf("%w: signature: %v", ErrMalformed, err)
	}
	pub := keyFor(h.Kid)
	if pub == nil {
		return h.Kid, unknownKeyError{kid: h.Kid}
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return h.Kid, ErrSignature
	}
	cb, err := b64.DecodeString(parts[1])
	if err != nil {
		return h.Kid, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	if err := json.Unmarshal(cb, dst); err != nil {
		return h.Kid, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	return h.Kid, nil
}
