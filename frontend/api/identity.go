package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"
)

// Identity is what the workload identity webhook injected into the pod: the
// managed identity's client ID, the tenant, the authority, and where the
// projected service account token is. None of it is secret except the token
// file's content, which this package only ever decodes, never returns.
type Identity struct {
	Service       string
	ClientID      string
	TenantID      string
	AuthorityHost string
	TokenFile     string
	// TraceView is where the page links for traces and the access log ("" = none).
	TraceView string
}

// tokenClaims is the part of the projected token the panel shows: who issued
// it (the cluster's OIDC issuer) and whom it names (system:serviceaccount:ns:sa),
// which is exactly what the federated credential in Entra ID must match.
type tokenClaims struct {
	Issuer    string    `json:"issuer"`
	Subject   string    `json:"subject"`
	Audience  []string  `json:"audience"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// identityView is the /api/identity response body.
type identityView struct {
	Service       string        `json:"service"`
	ClientID      string        `json:"clientId"`
	TenantID      string        `json:"tenantId"`
	AuthorityHost string        `json:"authorityHost"`
	Token         *tokenClaims  `json:"token,omitempty"`
	TokenError    string        `json:"tokenError,omitempty"`
	Dependencies  []CheckResult `json:"dependencies"`
	TraceView     string        `json:"traceView,omitempty"`
}

// identity serves the workshop's identity panel.
func (s *Server) identity(c echo.Context) error {
	id := s.identityInfo
	v := identityView{
		Service:       id.Service,
		ClientID:      id.ClientID,
		TenantID:      id.TenantID,
		AuthorityHost: id.AuthorityHost,
		TraceView:     id.TraceView,
		Dependencies:  s.checker.Results(c.Request().Context()),
	}
	if v.Dependencies == nil {
		v.Dependencies = []CheckResult{}
	}
	if id.TokenFile == "" {
		v.TokenError = "AZURE_FEDERATED_TOKEN_FILE is not set"
	} else if claims, err := readTokenClaims(id.TokenFile); err != nil {
		s.log.Warn("read projected token", "err", err)
		v.TokenError = "the projected service account token could not be read"
	} else {
		v.Token = claims
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, v)
}

// readTokenClaims reads the projected token file and decodes the claims of the
// JWT without verifying it: the panel only shows what the token says, the
// verification is Entra ID's job when the token is exchanged.
func readTokenClaims(path string) (*tokenClaims, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	return decodeTokenClaims(bytes.TrimSpace(raw))
}

// errNotJWT reports a token that is not a compact JWS.
var errNotJWT = errors.New("token is not a compact JWT")

// decodeTokenClaims extracts issuer, subject, audience and expiry from a JWT's payload.
func decodeTokenClaims(token []byte) (*tokenClaims, error) {
	parts := bytes.Split(token, []byte("."))
	if len(parts) != 3 {
		return nil, errNotJWT
	}
	payload, err := base64.RawURLEncoding.DecodeString(string(bytes.TrimRight(parts[1], "=")))
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", errNotJWT, err)
	}
	var c struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Exp float64         `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", errNotJWT, err)
	}
	out := &tokenClaims{Issuer: c.Iss, Subject: c.Sub, Audience: []string{}}
	// "aud" is a string or an array of strings (RFC 7519 section 4.1.3).
	if len(c.Aud) > 0 {
		var one string
		if json.Unmarshal(c.Aud, &one) == nil {
			out.Audience = []string{one}
		} else if err := json.Unmarshal(c.Aud, &out.Audience); err != nil {
			return nil, fmt.Errorf("%w: aud: %v", errNotJWT, err)
		}
	}
	if c.Exp > 0 {
		out.ExpiresAt = time.Unix(int64(c.Exp), 0).UTC()
	}
	return out, nil
}
