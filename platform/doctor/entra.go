package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/contoso/orderflow/platform/azure"
	"github.com/contoso/orderflow/platform/config"
)

// IdentityBicep is the Bicep file that declares the federated identity credentials.
const IdentityBicep = "infra/modules/identity.bicep"

// scopes returns the Entra scopes of the services that use Entra under cfg, in the
// order the services are probed; the same scopes the SDK clients ask for.
func scopes(cfg config.Config) []string {
	var s []string
	if !cfg.KeyVault.Emulator {
		s = append(s, "https://vault.azure.net/.default")
	}
	if cfg.Cosmos.Key == "" {
		if u, err := url.Parse(cfg.Cosmos.Endpoint); err == nil {
			s = append(s, u.Scheme+"://"+u.Hostname()+"/.default")
		}
	}
	if cfg.Storage.ConnectionString == "" {
		s = append(s, "https://storage.azure.com/.default")
	}
	if cfg.ServiceBus.ConnectionString == "" {
		s = append(s, "https://servicebus.azure.net//.default")
	}
	return s
}

// exchange gets a token for every scope the service uses, with the credential
// platform/azure built for it, and explains a refusal by its AADSTS code. It returns
// whether every token was issued.
func (d *run) exchange(ctx context.Context, cfg config.Config, clients *azure.Clients, tok tokenInfo, why string) bool {
	row := Row{Name: "entra-exchange"}
	defer func() { d.add(row) }()
	if why != "" {
		row.Status, row.Detail = Skipped, why
		return false
	}
	if clients.Credential == nil {
		row.Status, row.Detail = Skipped, "every service uses an emulator key or connection string: no Entra token is needed"
		return true
	}
	var got []string
	for _, scope := range scopes(cfg) {
		cctx, cancel := d.ctx(ctx)
		_, err := clients.Credential.GetToken(cctx, policy.TokenRequestOptions{Scopes: []string{scope}})
		cancel()
		if err != nil {
			row.Status = Problem
			row.Detail, row.Fix = explainEntra(err, scope, cfg, tok, d.o.Service)
			if len(got) > 0 {
				row.Detail = "tokens for " + strings.Join(got, ", ") + " were issued, but for " + scope + ": " + row.Detail
			}
			return false
		}
		got = append(got, strings.TrimSuffix(scope, "/.default"))
	}
	row.Status = OK
	how := "WorkloadIdentityCredential"
	if cfg.Identity.FederatedTokenFile == "" {
		how = "DefaultAzureCredential"
	}
	row.Detail = fmt.Sprintf("%s got tokens from %s for %s", how, authority(cfg), strings.Join(got, ", "))
	return true
}

func authority(cfg config.Config) string {
	if cfg.Identity.AuthorityHost != "" {
		return cfg.Identity.AuthorityHost
	}
	return "https://login.microsoftonline.com/"
}

var (
	aadstsCode = regexp.MustCompile(`AADSTS(\d+)`)
	// aadstsSentence is Entra's "AADSTSnnnn: sentence." (URLs inside have dots, so
	// the sentence ends at a dot before white space or the end).
	aadstsSentence = regexp.MustCompile(`AADSTS\d+:.*?\.(\s|$)`)
)

// explainEntra maps a token request's error to a detail (what Entra said) and a fix.
func explainEntra(err error, scope string, cfg config.Config, tok tokenInfo, service string) (detail, fix string) {
	msg := err.Error()
	reason := strings.TrimSpace(aadstsSentence.FindString(msg))
	if reason == "" {
		reason, _, _ = strings.Cut(msg, "\n")
	}
	iss, sub := tok.claims.Iss, tok.claims.Sub
	if iss == "" {
		iss = "<the cluster's OIDC issuer URL>"
	}
	if sub == "" {
		sub = "system:serviceaccount:<namespace>:" + service
	}
	federation := fmt.Sprintf("the identity with client id %s needs a federated credential with issuer %s, subject %s and audience %s "+
		"(issuer and subject compared case-sensitively): %s (serviceAccounts of the %sIdentity module in infra/main.bicep); "+
		"compare with `az identity federated-credential list --identity-name id-<baseName>-%s --resource-group <rg>`; "+
		"locally, LocalAzure.workloads[].federatedCredentials in localazure.json",
		cfg.Identity.ClientID, iss, sub, ExchangeAudience, IdentityBicep, service, service)

	m := aadstsCode.FindStringSubmatch(msg)
	if m == nil {
		return explainTransport(err, msg, reason, cfg)
	}
	code := m[1]
	// with puts the meaning before Entra's own sentence, which names the code.
	with := func(meaning string) string {
		if strings.Contains(reason, "AADSTS"+code) {
			return meaning + ": " + reason
		}
		return "AADSTS" + code + " " + meaning + ": " + reason
	}
	switch code {
	case "70021", "700211", "700212", "700213", "7002138":
		return with("no federated credential matches the token's issuer/subject/audience"), federation
	case "700024":
		return with("the assertion (the token file) is expired or not yet valid"),
			"check the token-file row's exp and the node's clock; restart the pod so kubelet projects a fresh token (locally, restart `localazure up`)"
	case "700027":
		return with("the assertion's signature does not verify with the issuer's keys"),
			"the federated credential's issuer must be this cluster's current OIDC issuer (az aks show --query oidcIssuerProfile.issuerUrl); " +
				"a token from another cluster, or keys rotated by az aks oidc-issuer rotate-signing-keys, cause this; " + IdentityBicep
	case "90061", "50166":
		return with("Entra cannot fetch the issuer's OIDC metadata or keys"),
			"the cluster's OIDC issuer must be enabled and publicly reachable (infra/modules/aks.bicep oidcIssuerProfile; az aks update --enable-oidc-issuer), " +
				"and the federated credential's issuer must be that URL (" + IdentityBicep + "); locally, federated credentials may only trust the local issuer"
	case "700016", "7000215":
		return with("Entra does not know this client (wrong AZURE_CLIENT_ID, or an application that is not the managed identity)"),
			fmt.Sprintf("AZURE_CLIENT_ID (%s) comes from the ServiceAccount annotation azure.workload.identity/client-id (deploy/base/%s-serviceaccount.yaml, "+
				"set by the overlay from infra's %sClientId output); it must be the clientId of the identity in %s: az identity show --name id-<baseName>-%s --resource-group <rg> --query clientId; "+
				"AZURE_TENANT_ID (%s) must be that identity's tenant", cfg.Identity.ClientID, service, service, IdentityBicep, service, cfg.Identity.TenantID)
	case "90002":
		return with("the tenant is unknown"),
			fmt.Sprintf("AZURE_TENANT_ID (%s) must be the tenant of the identity: az account show --query tenantId", cfg.Identity.TenantID)
	case "500011":
		return with("the resource of scope " + scope + " is not in the tenant"),
			"the endpoint this scope comes from is wrong: check KEYVAULT_URL, COSMOS_ENDPOINT, STORAGE_BLOB_ENDPOINT and SERVICEBUS_NAMESPACE against infra's outputs"
	default:
		return with("Entra refused the token request"),
			"look the code up: https://login.microsoftonline.com/error?code=" + code
	}
}

// explainTransport explains a token request that got no AADSTS answer: the authority
// was not reached, not trusted, or no credential was available.
func explainTransport(err error, msg, reason string, cfg config.Config) (detail, fix string) {
	host := authority(cfg)
	// The SDK's first line ("unable to resolve an endpoint: server response error:")
	// says little; the transport's own words (dial tcp …: connection refused) say why.
	if c := transportCause(msg); c != "" {
		reason = c
	}
	var ne net.Error
	var oe *net.OpError
	var dnsErr *net.DNSError
	switch {
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:"):
		return "the authority " + host + " was reached but its certificate is not trusted: " + reason,
			"on AKS the system roots suffice (is AZURE_AUTHORITY_HOST right?); locally, SSL_CERT_FILE must be the stack's CA (.localazure/ca.pem)"
	case errors.As(err, &dnsErr) || errors.As(err, &oe) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) ||
		strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host") || strings.Contains(msg, "i/o timeout"):
		return "cannot reach the authority " + host + ": " + reason,
			"check AZURE_AUTHORITY_HOST, DNS and egress to it on port 443 (a NetworkPolicy, firewall or proxy may block login.microsoftonline.com); " +
				"locally, is `localazure up` running, and is the env file from this run?"
	case cfg.Identity.FederatedTokenFile == "":
		return "DefaultAzureCredential found no identity: " + reason,
			"in a pod, enable workload identity (see webhook-variables); on a laptop, run `az login`, or `localazure up` and source its env file"
	default:
		return oneLine(msg), "see docs/labs.md (lab 2) and docs/deployment.md"
	}
}

// transportCause is the part of msg from the first transport-level phrase to the end
// of its line, without the SDK's "To troubleshoot, visit …" suffix; "" when none.
func transportCause(msg string) string {
	i := -1
	for _, p := range []string{"dial tcp", "lookup ", "proxyconnect", "x509:", "tls:"} {
		if j := strings.Index(msg, p); j >= 0 && (i < 0 || j < i) {
			i = j
		}
	}
	if i < 0 {
		return ""
	}
	c, _, _ := strings.Cut(msg[i:], "\n")
	c, _, _ = strings.Cut(c, ". To troubleshoot")
	return strings.TrimSuffix(c, ".")
}
