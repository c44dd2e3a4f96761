package entraemu

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/contoso/orderflow/localazure/authz"
)

const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// oidcScopes are the scopes MSAL adds to every request; they ask for nothing in a
// client-credentials grant.
var oidcScopes = map[string]bool{"openid": true, "profile": true, "offline_access": true, "email": true}

// accessClaims are the claims of the v1 app-only access tokens Entra issues for Azure
// resources (Key Vault, Storage, Service Bus, Cosmos DB accept v1 tokens).
type accessClaims struct {
	authz.AccessClaims
	AIO      string `json:"aio"`
	AppIDACR string `json:"appidacr"` // "2": the client authenticated with a certificate or assertion
	IDP      string `json:"idp"`
	RH       string `json:"rh"`
	UTI      string `json:"uti"`
	XMSTDBR  string `json:"xms_tdbr,omitempty"`
}

// tokenV2 is POST /{tenant}/oauth2/v2.0/token: scope=<resource>/.default.
func (s *Server) tokenV2(w http.ResponseWriter, r *http.Request) {
	s.token(w, r, false)
}

// tokenV1 is POST /{tenant}/oauth2/token: resource=<resource>, v1 reply with string numbers.
func (s *Server) tokenV1(w http.ResponseWriter, r *http.Request) {
	s.token(w, r, true)
}

// tokenWrongMethod answers a GET of a token endpoint as Entra does.
func (s *Server) tokenWrongMethod(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, wrongMethod(r.Method))
}

func (s *Server) token(w http.ResponseWriter, r *http.Request, v1 bool) {
	tenant := r.PathValue("tenant")
	switch s.classifyTenant(tenant) {
	case tenantUnknown:
		s.writeError(w, r, unknownTenant(tenant, "invalid_request"))
		return
	case tenantMulti:
		s.writeError(w, r, noTenantInfo())
		return
	}
	if err := r.ParseForm(); err != nil {
		s.writeError(w, r, missingParam("grant_type"))
		return
	}
	f := r.PostForm
	grant := f.Get("grant_type")
	switch {
	case grant == "":
		s.writeError(w, r, missingParam("grant_type"))
		return
	case grant != "client_credentials":
		s.writeError(w, r, unsupportedGrant(grant))
		return
	}
	clientID := f.Get("client_id")
	if clientID == "" {
		s.writeError(w, r, missingParam("client_id"))
		return
	}
	resource, oerr := requestedResource(f.Get("scope"), f.Get("resource"), v1)
	if oerr != nil {
		s.writeError(w, r, *oerr)
		return
	}
	wl := s.byClient[strings.ToLower(clientID)]
	if wl == nil {
		s.writeError(w, r, unknownClient(clientID, s.opts.TenantID))
		return
	}
	switch {
	case f.Get("client_secret") != "":
		s.writeError(w, r, invalidSecret(clientID)) // the local identities hold no secrets
		return
	case f.Get("client_assertion") == "":
		s.writeError(w, r, missingCredential())
		return
	case f.Get("client_assertion_type") != jwtBearer:
		s.writeError(w, r, badAssertionType(f.Get("client_assertion_type")))
		return
	}
	if err := s.checkAssertion(wl, f.Get("client_assertion")); err != nil {
		var oe oauthError
		if !errors.As(err, &oe) {
			oe = malformedAssertion()
		}
		s.writeError(w, r, oe)
		return
	}
	// After the client has proven who it is, as a stand-in choice: an unauthenticated
	// caller learns nothing about which resources exist.
	if !s.resources.has(resource) {
		s.writeError(w, r, unknownResource(resource, s.opts.TenantID))
		return
	}
	tok, exp, err := s.accessToken(wl, resource)
	if err != nil {
		s.log.Error("entra: issue access token", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	secs := int64(time.Until(exp).Round(time.Second)/time.Second) - 1 // Entra answers 3599 for an hour
	if v1 {
		writeJSON(w, http.StatusOK, map[string]string{
			"token_type": "Bearer", "expires_in": strconv.FormatInt(secs, 10), "ext_expires_in": strconv.FormatInt(secs, 10),
			"expires_on": strconv.FormatInt(exp.Unix(), 10), "not_before": strconv.FormatInt(s.now().Add(-5*time.Minute).Unix(), 10),
			"resource": resource, "access_token": tok,
		}, "no-store, no-cache")
		return
	}
	reply := map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok}
	if s.opts.AccessTokenTTL >= 2*time.Hour {
		reply["refresh_in"] = secs / 2 // Entra hints a refresh at half-life for long-lived tokens
	}
	writeJSON(w, http.StatusOK, reply, "no-store, no-cache")
}

// requestedResource finds the one resource a client-credentials request asks for.
// v2 takes scope=<resource>/.default, alone or with the OIDC scopes MSAL adds; v1 takes
// resource=<resource>.
func requestedResource(scope, resource string, v1 bool) (string, *oauthError) {
	if v1 {
		if resource == "" {
			e := missingParam("resource")
			return "", &e
		}
		return audienceFor(resource), nil
	}
	if strings.TrimSpace(scope) == "" {
		e := missingParam("scope")
		return "", &e
	}
	var rest []string
	for _, sc := range strings.Fields(scope) {
		if !oidcScopes[strings.ToLower(sc)] {
			rest = append(rest, sc)
		}
	}
	if len(rest) != 1 {
		e := invalidScope(scope)
		return "", &e
	}
	if !strings.HasSuffix(rest[0], "/.default") {
		e := scopeWithoutDefault(rest[0])
		return "", &e
	}
	return audienceFor(strings.TrimSuffix(rest[0], "/.default")), nil
}

// audienceFor is the aud Entra puts in a v1 token for a requested resource: the
// resource exactly as asked, trailing slash included. That is why SDKs ask for
// "https://servicebus.azure.net//.default" and az asks for
// "https://management.core.windows.net//.default": the token's aud then ends in "/",
// and ARM insists on an exact match "including forward slash".
func audienceFor(resource string) string { return resource }

// accessToken signs a v1 app-only token for wl and audience aud.
func (s *Server) accessToken(wl *Workload, aud string) (string, time.Time, error) {
	now := s.now()
	exp := now.Add(s.opts.AccessTokenTTL)
	c := accessClaims{
		AccessClaims: authz.AccessClaims{
			Issuer: s.stsIssuer, Audience: aud, Subject: wl.ObjectID, TenantID: s.opts.TenantID,
			ObjectID: wl.ObjectID, AppID: wl.ClientID, IDType: "app", Version: "1.0",
			// Entra backdates iat and nbf by five minutes to absorb clock skew.
			IssuedAt: now.Add(-5 * time.Minute).Unix(), NotBefore: now.Add(-5 * time.Minute).Unix(), Expires: exp.Unix(),
		},
		AIO: "local", AppIDACR: "2", IDP: s.stsIssuer, RH: "0.local.", UTI: strings.ReplaceAll(newUUID(), "-", "")[:22],
		XMSTDBR: "EU",
	}
	tok, err := authz.SignRS256(s.entraKey.priv, s.entraKey.kid, c)
	return tok, exp, err
}
