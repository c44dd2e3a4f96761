package entraemu

import (
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// errorPage explains one AADSTS code the local Entra answers with: what it means, why
// a workload on AKS with workload identity usually meets it, and how to fix it there and
// on the local stack. Token errors link here through their error_uri, so the page a
// participant opens from a log line says what to change rather than only what failed.
type errorPage struct {
	Code    int    `json:"code"`
	Title   string `json:"title"`
	Meaning string `json:"meaning"`
	Cause   string `json:"cause"` // the usual cause on AKS workload identity
	Fix     string `json:"fix"`
}

// Where each fix points: the names a participant can look up.
const (
	ficFields   = "the federated credential's issuer, subject and audience"
	ficList     = "`az identity federated-credential list --identity-name <identity> --resource-group <group>`"
	ficBicep    = "infra/modules/identity.bicep"
	ficLocal    = "`federatedCredentials` of the workload in localazure.json (left out: one credential trusting the workload's own service account on the local issuer)"
	issuerQuery = "`az aks show --resource-group <group> --name <cluster> --query oidcIssuerProfile.issuerUrl -o tsv`"
)

// errorPages has a page for every code errors.go can answer with; a test derives the
// codes from the source, so a new code without a page fails it.
var errorPages = map[int]errorPage{
	90002: {Title: "Tenant not found",
		Meaning: "The tenant in the token URL (or discovery URL) is not the one this Entra serves.",
		Cause:   "AZURE_TENANT_ID is wrong: the pod's service account carries an `azure.workload.identity/tenant-id` annotation for another tenant, or the webhook's default tenant is not the identity's.",
		Fix:     "Set AZURE_TENANT_ID to the tenant of the managed identity (`az account show --query tenantId`). Locally it must equal `LocalAzure.tenantId` in localazure.json; use the workload's env file (`localazure env <workload>`) rather than a value typed by hand."},
	50059: {Title: "No tenant in the request",
		Meaning: "The token request went to /common or /organizations, which cannot issue app tokens.",
		Cause:   "AZURE_TENANT_ID is empty, so the client fell back to a multi-tenant authority.",
		Fix:     "Give the client the tenant id: the workload identity webhook sets AZURE_TENANT_ID when the pod has the label `azure.workload.identity/use: \"true\"`; locally the env file sets it."},
	900144: {Title: "Required parameter missing",
		Meaning: "The token request lacks grant_type, client_id, scope (v1: resource) or client_assertion_type.",
		Cause:   "Usually an empty AZURE_CLIENT_ID: the service account has no `azure.workload.identity/client-id` annotation, so the webhook injected none. Hand-written requests (curl) miss fields too.",
		Fix:     "Annotate the service account with the identity's client id (the `clientId` output of " + ficBicep + "); locally the workload's `clientId` in localazure.json reaches AZURE_CLIENT_ID through its env file. SDK credentials send every parameter."},
	900561: {Title: "Token endpoint called with the wrong method",
		Meaning: "The token endpoint only accepts POST.",
		Cause:   "A hand-made GET (a browser, curl without -d) or a proxy rewriting the request.",
		Fix:     "POST the form to /<tenant>/oauth2/v2.0/token, as the SDK credentials do."},
	70003: {Title: "Unsupported grant type",
		Meaning: "Only client_credentials is supported; workload identity uses it with a client assertion.",
		Cause:   "A client configured for another flow (device code, password, refresh token) against this authority.",
		Fix:     "Use WorkloadIdentityCredential (or DefaultAzureCredential, which picks it from AZURE_FEDERATED_TOKEN_FILE)."},
	700016: {Title: "Application (client id) not found in the tenant",
		Meaning: "No identity with this client id exists in the tenant.",
		Cause:   "The service account's `azure.workload.identity/client-id` annotation names another identity (a typo, a deleted and re-created identity with a new client id, another tenant's identity).",
		Fix:     "Compare the annotation with `az identity show --resource-group <group> --name <identity> --query clientId -o tsv` (the `clientId` output of " + ficBicep + "). Locally the client id must be a workload's `clientId` in localazure.json."},
	7000215: {Title: "Client secret sent",
		Meaning: "The request carried a client_secret, but the identity has no secrets: it authenticates with a federated token only.",
		Cause:   "AZURE_CLIENT_SECRET is set in the environment, so EnvironmentCredential (first in DefaultAzureCredential's chain) sent it.",
		Fix:     "Remove AZURE_CLIENT_SECRET from the Deployment (or your shell) so the workload identity token file is used."},
	7000218: {Title: "No client credential",
		Meaning: "The request carried neither client_assertion nor client_secret.",
		Cause:   "The credential found no federated token to send: AZURE_FEDERATED_TOKEN_FILE is unset or the file is empty, as when the pod lacks the `azure.workload.identity/use: \"true\"` label.",
		Fix:     "Label the pod so the webhook projects the token and sets AZURE_FEDERATED_TOKEN_FILE; locally source the workload's env file while `localazure up` runs."},
	90014: {Title: "Wrong client_assertion_type",
		Meaning: "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
		Cause:   "A hand-made request or a misconfigured client library.",
		Fix:     "Send the jwt-bearer assertion type, as WorkloadIdentityCredential and MSAL's client assertion do."},
	50027: {Title: "Client assertion is not a JWT",
		Meaning: "The client_assertion could not be parsed as a JWT.",
		Cause:   "The token file AZURE_FEDERATED_TOKEN_FILE names is empty, truncated or not a service-account token (a wrong path, a file copied from elsewhere).",
		Fix:     "Point AZURE_FEDERATED_TOKEN_FILE at the projected token (AKS: /var/run/secrets/azure/tokens/azure-identity-token; locally .localazure/tokens/<workload>/azure-identity-token, written while `localazure up` runs)."},
	70011: {Title: "Invalid scope",
		Meaning: "The scope names no resource, or more than one: an app token is for exactly one resource's /.default.",
		Cause:   "Only OIDC scopes (openid, profile) were asked for, or two resources in one request.",
		Fix:     "Ask for one scope `<resource>/.default`, e.g. https://vault.azure.net/.default."},
	1002012: {Title: "Scope without /.default",
		Meaning: "Client-credential requests must ask for `<resource>/.default`.",
		Cause:   "A scope such as https://vault.azure.net/user_impersonation or a bare resource URL.",
		Fix:     "Append /.default to the resource; the Azure SDK clients do this themselves."},
	500011: {Title: "Resource not found in the tenant",
		Meaning: "No service principal in the tenant is the resource the scope names.",
		Cause:   "A typo in the scope or endpoint, or a resource this tenant does not have. Locally only the stand-ins' resources (Key Vault, Cosmos DB, Storage, Service Bus) exist.",
		Fix:     "Check the scope against the service's documented resource id, or the endpoint variable (KEYVAULT_URL, COSMOS_ENDPOINT, ...) it is built from."},
	700211: {Title: "No federated credential trusts the token's issuer",
		Meaning: "None of the identity's federated credentials has the issuer (iss) of the presented service-account token; the comparison is case-sensitive.",
		Cause:   "The cluster's OIDC issuer is not the one the credential names: the cluster was re-created, or the credential was made for another cluster (or the issuer URL differs by a trailing slash).",
		Fix:     "Compare " + ficFields + " with the token: " + issuerQuery + " must equal the credential's issuer (" + ficList + "). The issuer comes from the `issuer` parameter of " + ficBicep + ". Locally the issuer is `<AZURE_AUTHORITY_HOST>oidc`, which changes with the identity port; see " + ficLocal + "."},
	700212: {Title: "No federated credential accepts the token's audience",
		Meaning: "A credential trusts the issuer and subject, but its audience is not the token's aud.",
		Cause:   "The credential's audience is not api://AzureADTokenExchange, which is what the workload identity webhook's projected token carries.",
		Fix:     "Set the credential's audience to api://AzureADTokenExchange (" + ficBicep + " does; check with " + ficList + "); locally the `audiences` of " + ficLocal + "."},
	700213: {Title: "No federated credential trusts the token's subject",
		Meaning: "A credential trusts the issuer, but none has the token's subject (sub), `system:serviceaccount:<namespace>:<service account>`; the comparison is case-sensitive.",
		Cause:   "The pod runs under another service account or namespace than the credential was made for (serviceAccountName in the Deployment, the overlay's namespace).",
		Fix:     "Make " + ficFields + " match the pod: the subject must be system:serviceaccount:<namespace>:<service account> (" + ficList + "); the `serviceAccounts` parameter of " + ficBicep + " makes one credential per service account. Locally: the workload's `namespace` and `serviceAccount`, or the `subject` in " + ficLocal + "."},
	70021: {Title: "No federated credential matches issuer, subject and audience together",
		Meaning: "Each of the token's issuer, subject and audience matches some credential of the identity, but no single credential matches all three.",
		Cause:   "Two half-right credentials, e.g. one with the right subject and a wrong audience, another with the right audience and an old subject.",
		Fix:     "List the credentials (" + ficList + ") and make one of them carry " + ficFields + " exactly as the token has them; " + ficBicep + " makes them that way. Locally: " + ficLocal + "."},
	50166: {Title: "The issuer's OIDC endpoint could not be reached",
		Meaning: "To check the token's signature Entra fetches the issuer's discovery document and keys, and that failed.",
		Cause:   "On AKS: the cluster's OIDC issuer is disabled or the URL in the credential is wrong. Locally: the credential trusts a foreign issuer (GitHub Actions, another cluster), whose keys the stand-in does not fetch.",
		Fix:     "Check the credential's issuer (" + ficList + ") against " + issuerQuery + "; locally leave `issuer` out of " + ficLocal + " to trust the local cluster issuer."},
	700027: {Title: "Client assertion failed signature validation",
		Meaning: "The service-account token's signature does not verify with any key the issuer publishes.",
		Cause:   "On AKS: the cluster's service-account signing keys were rotated (`az aks oidc-issuer rotate-signing-keys`) and the pod still sends a token signed by the old key. Locally: the token comes from a previous `localazure up` (the local issuer makes a new key at every start), e.g. a token file copied elsewhere or read before the restart.",
		Fix:     "Send a fresh token: kubelet rewrites the projected file, so re-read it (restart the pod); locally restart the workload so it reads the current .localazure/tokens/<workload>/azure-identity-token."},
	700024: {Title: "Client assertion outside its validity",
		Meaning: "The service-account token is expired or not yet valid (5 minutes of clock skew are allowed).",
		Cause:   "The token was read once and kept: kubelet refreshes the projected file, but a client holding the old token fails. Locally the files are only rewritten while `localazure up` runs.",
		Fix:     "Let the credential re-read AZURE_FEDERATED_TOKEN_FILE (WorkloadIdentityCredential does); locally keep `localazure up` running, or restart it and the workload. Check the machine's clock too."},
}

// errorPageHTML renders a page; html/template escapes every field.
var errorPageHTML = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AADSTS{{.Code}}: {{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:46em;margin:2em auto;padding:0 1em;line-height:1.5}code{background:#f3f3f3;padding:0 .2em}</style>
</head><body>
<h1>AADSTS{{.Code}}: {{.Title}}</h1>
<p><small>Local Entra ID (localazure entraemu). Microsoft's list: <a href="https://learn.microsoft.com/entra/identity-platform/reference-error-codes">Entra authentication and authorization error codes</a>.</small></p>
<h2>What it means</h2><p>{{.Meaning}}</p>
<h2>Usual cause with AKS workload identity</h2><p>{{.Cause}}</p>
<h2>Fix</h2><p>{{.Fix}}</p>
</body></html>
`))

// errorPage serves GET /error?code=N: HTML for browsers, JSON when the client
// accepts application/json, and a 404 problem for a code without a page.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request) {
	raw := strings.TrimPrefix(strings.ToUpper(r.URL.Query().Get("code")), "AADSTS")
	code, err := strconv.Atoi(raw)
	page, ok := errorPages[code]
	if err != nil || !ok {
		codes := slices.Sorted(func(yield func(int) bool) {
			for c := range errorPages {
				if !yield(c) {
					return
				}
			}
		})
		known := make([]string, len(codes))
		for i, c := range codes {
			known[i] = strconv.Itoa(c)
		}
		// An RFC 9457 problem, so that a script following error_uri learns why.
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"type": "about:blank", "title": "Not Found", "status": http.StatusNotFound,
			"detail": "The local Entra has no page for code " + strconv.Quote(r.URL.Query().Get("code")) + "; it has pages for: " + strings.Join(known, ", ") + ".",
		})
		return
	}
	page.Code = code
	if acceptsJSON(r) {
		writeJSON(w, http.StatusOK, page, "public, max-age=3600")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := errorPageHTML.Execute(w, page); err != nil {
		s.log.Warn("entra error page", "code", code, "err", err)
	}
}

// acceptsJSON reports whether the Accept header asks for JSON (application/json or
// a +json type) rather than a page.
func acceptsJSON(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		if mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
			return true
		}
	}
	return false
}
