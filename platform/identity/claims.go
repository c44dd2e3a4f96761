package identity

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// Claims are the part of the projected token the panel shows: who issued it (the
// cluster's OIDC issuer) and whom it names (system:serviceaccount:ns:sa), which is
// exactly what the federated credential in Entra ID must match.
type Claims struct {
	Issuer    string    `json:"issuer"`
	Subject   string    `json:"subject"`
	Audience  []string  `json:"audience"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// ReadClaims reads the projected token file and decodes the claims of the JWT
// without verifying it: the panel only shows what the token says, the
// verification is Entra ID's job when the token is exchanged.
func ReadClaims(path string) (*Claims, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	return DecodeClaims(bytes.TrimSpace(raw))
}

// ErrNotJWT reports a token that is not a compact JWS.
var ErrNotJWT = errors.New("token is not a compact JWT")

// DecodeClaims extracts issuer, subject, audience and expiry from a JWT's payload.
func DecodeClaims(token []byte) (*Claims, error) {
	parts := bytes.Split(token, []byte("."))
	if len(parts) != 3 {
		return nil, ErrNotJWT
	}
	payload, err := base64.RawURLEncoding.DecodeString(string(bytes.TrimRight(parts[1], "=")))
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrNotJWT, err)
	}
	var c struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Exp float64         `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrNotJWT, err)
	}
	out := &Claims{Issuer: c.Iss, Subject: c.Sub, Audience: []string{}}
	// "aud" is a string or an array of strings (RFC 7519 section 4.1.3).
	if len(c.Aud) > 0 {
		var one string
		if json.Unmarshal(c.Aud, &one) == nil {
			out.Audience = []string{one}
		} else if err := json.Unmarshal(c.Aud, &out.Audience); err != nil {
			return nil, fmt.Errorf("%w: aud: %v", ErrNotJWT, err)
		}
	}
	if c.Exp > 0 {
		out.ExpiresAt = time.Unix(int64(c.Exp), 0).UTC()
	}
	return out, nil
}
