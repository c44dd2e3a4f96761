package entraemu

import (
	"net/http"
	"net/url"
	"strings"
)

// tenantKind classifies the tenant segment of an Entra path.
type tenantKind int

const (
	tenantUnknown tenantKind = iota
	tenantOwn                // the configured tenant id
	tenantMulti              // common or organizations: discovery answers with a {tenantid} template
)

func (s *Server) classifyTenant(t string) tenantKind {
	switch {
	case strings.EqualFold(t, s.opts.TenantID):
		return tenantOwn
	case strings.EqualFold(t, "common"), strings.EqualFold(t, "organizations"):
		return tenantMulti
	}
	return tenantUnknown
}

// discoveryTenant returns the tenant to put in a discovery document, or writes Entra's
// AADSTS90002 answer for a tenant it does not know.
func (s *Server) discoveryTenant(w http.ResponseWriter, r *http.Request) (string, bool) {
	t := r.PathValue("tenant")
	switch s.classifyTenant(t) {
	case tenantOwn:
		return s.opts.TenantID, true
	case tenantMulti:
		return "{tenantid}", true
	}
	s.writeError(w, r, unknownTenant(t, "invalid_tenant"))
	return "", false
}

// tenantDiscoveryV2 serves the v2.0 OpenID configuration as Entra does. MSAL Go needs
// authorization_endpoint, token_endpoint and an issuer on the authority's host; MSAL for
// other languages also reads jwks_uri and the rest.
func (s *Server) tenantDiscoveryV2(w http.ResponseWriter, r *http.Request) {
	tenant, ok := s.discoveryTenant(w, r)
	if !ok {
		return
	}
	seg := r.PathValue("tenant") // endpoints keep the segment as asked, the issuer names the tenant
	base := s.opts.AuthorityURL + "/" + seg
	doc := map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic", "self_signed_tls_client_auth"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                s.opts.AuthorityURL + "/" + tenant + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     "https://graph.microsoft.com/oidc/userinfo",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"claims_supported": []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		"kerberos_endpoint":     base + "/kerberos",
		"tenant_region_scope":   "NA",
		"cloud_instance_name":   "microsoftonline.com",
		"cloud_graph_host_name": "graph.windows.net",
		"msgraph_host":          "graph.microsoft.com",
		"rbac_url":              "https://pas.windows.net",
	}
	writeJSON(w, http.StatusOK, doc, "max-age=86400, private")
}

// tenantDiscoveryV1 serves the v1 OpenID configuration. Its issuer is the sts.windows.net
// one, as Entra's is: v1 tokens carry that issuer whatever host issued them.
func (s *Server) tenantDiscoveryV1(w http.ResponseWriter, r *http.Request) {
	tenant, ok := s.discoveryTenant(w, r)
	if !ok {
		return
	}
	base := s.opts.AuthorityURL + "/" + r.PathValue("tenant")
	doc := map[string]any{
		"token_endpoint":                        base + "/oauth2/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic", "self_signed_tls_client_auth"},
		"jwks_uri":                              s.opts.AuthorityURL + "/common/discovery/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "token id_token", "token"},
		"scopes_supported":                      []string{"openid"},
		"issuer":                                "https://sts.windows.net/" + tenant + "/",
		"microsoft_multi_refresh_token":         true,
		"authorization_endpoint":                base + "/oauth2/authorize",
		"device_authorization_endpoint":         base + "/oauth2/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/logout",
		"claims_supported": []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name", "family_name", "nickname"},
		"check_session_iframe":  base + "/oauth2/checksession",
		"userinfo_endpoint":     base + "/openid/userinfo",
		"kerberos_endpoint":     base + "/kerberos",
		"tenant_region_scope":   "NA",
		"cloud_instance_name":   "microsoftonline.com",
		"cloud_graph_host_name": "graph.windows.net",
		"msgraph_host":          "graph.microsoft.com",
		"rbac_url":              "https://pas.windows.net",
	}
	writeJSON(w, http.StatusOK, doc, "max-age=86400, private")
}

// instanceDiscovery answers MSAL's instance discovery: this host is its own only alias.
// The requested authorization_endpoint names the tenant the discovery endpoint is for.
func (s *Server) instanceDiscovery(w http.ResponseWriter, r *http.Request) {
	host := strings.TrimPrefix(s.opts.AuthorityURL, "https://")
	tenant := "common"
	if ae := r.URL.Query().Get("authorization_endpoint"); ae != "" {
		if u, err := url.Parse(ae); err == nil {
			if seg := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")[0]; seg != "" {
				tenant = seg
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": s.opts.AuthorityURL + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": host,
			"preferred_cache":   host,
			"aliases":           []string{host},
		}},
	}, "max-age=86400, private")
}

// entraJWKS publishes the access-token signing key, with its certificate as Entra does.
func (s *Server) entraJWKS(w http.ResponseWriter, r *http.Request) {
	if t := r.PathValue("tenant"); t != "" && s.classifyTenant(t) == tenantUnknown {
		s.writeError(w, r, unknownTenant(t, "invalid_tenant"))
		return
	}
	writeJSON(w, http.StatusOK, jwks{Keys: []jwk{s.entraKey.jwk(true, s.opts.AuthorityURL+"/"+s.opts.TenantID+"/v2.0")}}, "max-age=86400, private")
}
