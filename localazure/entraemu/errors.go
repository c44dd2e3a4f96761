package entraemu

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// oauthError is one of Entra's token-endpoint failures: an OAuth error code, an AADSTS
// number and its message, and the HTTP status Entra answers with (400 for request
// errors, 401 for invalid_client, as the OAuth 2.0 spec allows).
type oauthError struct {
	status int
	code   string // invalid_request, invalid_client, invalid_grant, unauthorized_client, ...
	aadsts int
	msg    string
}

func (e oauthError) Error() string { return fmt.Sprintf("AADSTS%d: %s", e.aadsts, e.msg) }

// The failures the local Entra produces. Messages follow Entra's wording.

func unknownTenant(tenant, code string) oauthError {
	return oauthError{http.StatusBadRequest, code, 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant)}
}

func noTenantInfo() oauthError {
	return oauthError{http.StatusBadRequest, "invalid_request", 50059, "No tenant-identifying information found in either the request or implied by any provided credentials."}
}

func missingParam(name string) oauthError {
	return oauthError{http.StatusBadRequest, "invalid_request", 900144, fmt.Sprintf("The request body must contain the following parameter: '%s'.", name)}
}

func wrongMethod(m string) oauthError {
	return oauthError{http.StatusBadRequest, "invalid_request", 900561, fmt.Sprintf("The endpoint only accepts POST, OPTIONS requests. Received a %s request.", m)}
}

func unsupportedGrant(g string) oauthError {
	return oauthError{http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", g)}
}

func unknownClient(clientID, tenant string) oauthError {
	return oauthError{http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant)}
}

func invalidSecret(clientID string) oauthError {
	return oauthError{http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID)}
}

func missingCredential() oauthError {
	return oauthError{http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
}

func badAssertionType(t string) oauthError {
	if t == "" {
		return missingParam("client_assertion_type")
	}
	return oauthError{http.StatusBadRequest, "invalid_request", 90014, fmt.Sprintf("The client_assertion_type '%s' is not supported; expected 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.", t)}
}

func malformedAssertion() oauthError {
	return oauthError{http.StatusBadRequest, "invalid_request", 50027, "JWT token is invalid or malformed."}
}

func invalidScope(scope string) oauthError {
	return oauthError{http.StatusBadRequest, "invalid_scope", 70011, fmt.Sprintf("The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", scope)}
}

func scopeWithoutDefault(scope string) oauthError {
	return oauthError{http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)}
}

// unknownResource is Entra's answer for a scope whose resource has no service
// principal in the tenant (seen e.g. in Azure/azure-cli#29113); the tenant is named by
// its id, as the local tenant has no display name.
func unknownResource(resource, tenant string) oauthError {
	return oauthError{http.StatusBadRequest, "invalid_resource", 500011, fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resource, tenant)}
}

func issuerNotTrusted(iss string) oauthError {
	return oauthError{http.StatusUnauthorized, "invalid_client", 700211, fmt.Sprintf("No matching federated identity record found for presented assertion issuer '%s'. Please note that the matching is done using a case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation", iss)}
}

func audienceNotTrusted(aud string) oauthError {
	return oauthError{http.StatusUnauthorized, "invalid_client", 700212, fmt.Sprintf("No matching federated identity record found for presented assertion audience '%s'. Please note that the matching is done using a case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation", aud)}
}

func subjectNotTrusted(sub string) oauthError {
	return oauthError{http.StatusUnauthorized, "invalid_client", 700213, fmt.Sprintf("No matching federated identity record found for presented assertion subject '%s'. Please note that the matching is done using a case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation", sub)}
}

func noMatchingRecord(iss, sub, aud string) oauthError {
	return oauthError{http.StatusBadRequest, "invalid_request", 70021, fmt.Sprintf("No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. Assertion Audience: '%s'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation", iss, sub, aud)}
}

func issuerUnreachable(iss string) oauthError {
	return oauthError{http.StatusUnauthorized, "invalid_client", 50166, fmt.Sprintf("Request to External OIDC endpoint failed. Issuer: '%s'.", iss)}
}

func badSignature() oauthError {
	return oauthError{http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation."}
}

func assertionTimeRange(now, nbf, exp time.Time) oauthError {
	const f = "2006-01-02T15:04:05.0000000Z"
	return oauthError{http.StatusUnauthorized, "invalid_client", 700024, fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .", now.UTC().Format(f), nbf.UTC().Format(f), exp.UTC().Format(f))}
}

// writeError answers with Entra's error JSON. The correlation id echoes the client's
// client-request-id header, which MSAL sends and Entra echoes.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, e oauthError) {
	now := s.now().UTC()
	trace := newUUID()
	corr := r.Header.Get("client-request-id")
	if corr == "" {
		corr = newUUID()
	}
	ts := now.Format("2006-01-02 15:04:05Z")
	w.Header().Set("client-request-id", corr)
	writeJSON(w, e.status, map[string]any{
		"error":             e.code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", e.aadsts, e.msg, trace, corr, ts),
		"error_codes":       []int{e.aadsts},
		"timestamp":         ts,
		"trace_id":          trace,
		"correlation_id":    corr,
		"error_uri":         s.opts.AuthorityURL + "/error?code=" + strconv.Itoa(e.aadsts),
	}, "no-store, no-cache")
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "entra refused a request", slog.String("error", e.code),
		slog.Int("aadsts", e.aadsts), slog.String("message", e.msg))
}
