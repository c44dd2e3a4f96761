package entraemu

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// TokenExchangeAudience is the audience Entra expects in a federated client assertion
// and the audience the AKS webhook requests for the projected service-account token.
const TokenExchangeAudience = "api://AzureADTokenExchange"

// FederatedCredential is a federated identity credential on an app registration or a
// user-assigned managed identity: Entra accepts an assertion whose iss, sub and aud
// equal Issuer, Subject and one of Audiences, compared case-sensitively.
type FederatedCredential struct {
	Name      string
	Issuer    string
	Subject   string
	Audiences []string // default [api://AzureADTokenExchange]
}

// Workload is one Kubernetes workload and the Entra identity it runs as.
type Workload struct {
	Name, Namespace, ServiceAccount string
	// ClientID is the identity's application (client) id, what AZURE_CLIENT_ID names;
	// ObjectID is its service principal's object id, what role assignments name.
	ClientID, ObjectID string
	// FederatedCredentials trusted by this identity; empty = one credential for this
	// workload's own service account on the local issuer.
	FederatedCredentials []FederatedCredential
}

// Subject is the service-account token subject of the workload.
func (w Workload) Subject() string {
	return "system:serviceaccount:" + w.Namespace + ":" + w.ServiceAccount
}

// Options configure a Server.
type Options struct {
	TenantID string
	// AuthorityURL is the public base URL of this server, e.g. "https://localhost:8400"
	// (what AZURE_AUTHORITY_HOST is set to). It must be https: MSAL refuses anything else.
	AuthorityURL string
	// IssuerPath is the path of the OIDC issuer under AuthorityURL, default "/oidc".
	IssuerPath string
	Workloads  []Workload
	// TokenDir is where service-account token files go; "" = no files written.
	TokenDir string
	// TokenTTL is the lifetime of service-account tokens, default 1h as the AKS webhook asks.
	TokenTTL time.Duration
	// AccessTokenTTL is the lifetime of access tokens, default 1h (Entra gives app tokens
	// 60 to 90 minutes). Lifetimes of 2h or more are answered with refresh_in, as Entra does.
	AccessTokenTTL time.Duration
	// Resources are application ID URIs served besides ServedResources, such as a
	// stand-in's own endpoint (Cosmos DB clients ask for <account endpoint>/.default).
	// Tokens for any other resource are refused with AADSTS500011, as Entra refuses a
	// resource without a service principal in the tenant.
	Resources []string
	Logger    *slog.Logger
}

const maxFederatedCredentials = 20 // Entra's limit per application or managed identity

var (
	fileSafe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	k8sSubName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
)

// normalize validates opts and fills in defaults; the error names the offending field.
func (opts Options) normalize() (Options, error) {
	if opts.TenantID == "" {
		return opts, errors.New("entra: TenantID is required")
	}
	if strings.ContainsAny(opts.TenantID, "/?# ") || strings.EqualFold(opts.TenantID, "common") ||
		strings.EqualFold(opts.TenantID, "organizations") || strings.EqualFold(opts.TenantID, "consumers") {
		return opts, fmt.Errorf("entra: TenantID %q is not a tenant id", opts.TenantID)
	}
	u, err := url.Parse(opts.AuthorityURL)
	if err != nil || opts.AuthorityURL == "" {
		return opts, fmt.Errorf("entra: AuthorityURL %q is not a URL", opts.AuthorityURL)
	}
	if u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return opts, fmt.Errorf("entra: AuthorityURL %q must be https://host[:port] (MSAL and azidentity refuse plain http)", opts.AuthorityURL)
	}
	opts.AuthorityURL = "https://" + u.Host
	if opts.IssuerPath == "" {
		opts.IssuerPath = "/oidc"
	}
	if !strings.HasPrefix(opts.IssuerPath, "/") || strings.HasSuffix(opts.IssuerPath, "/") || strings.ContainsAny(opts.IssuerPath, "?# ") {
		return opts, fmt.Errorf("entra: IssuerPath %q must start with / and not end with /", opts.IssuerPath)
	}
	if first := strings.Split(strings.TrimPrefix(opts.IssuerPath, "/"), "/")[0]; strings.EqualFold(first, opts.TenantID) || first == "common" {
		return opts, fmt.Errorf("entra: IssuerPath %q collides with the Entra endpoints", opts.IssuerPath)
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.TokenTTL < 0 {
		return opts, fmt.Errorf("entra: TokenTTL %s is negative", opts.TokenTTL)
	}
	if opts.AccessTokenTTL == 0 {
		opts.AccessTokenTTL = time.Hour
	}
	if opts.AccessTokenTTL < time.Minute {
		return opts, fmt.Errorf("entra: AccessTokenTTL %s is shorter than a minute", opts.AccessTokenTTL)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	issuer := opts.AuthorityURL + opts.IssuerPath
	names, clients, objects := map[string]bool{}, map[string]bool{}, map[string]bool{}
	ws := make([]Workload, len(opts.Workloads))
	for i, w := range opts.Workloads {
		where := fmt.Sprintf("entra: workload %d (%q)", i, w.Name)
		switch {
		case !fileSafe.MatchString(w.Name):
			return opts, fmt.Errorf("%s: Name must be letters, digits, '.', '_' or '-' (it names the token file)", where)
		case names[w.Name]:
			return opts, fmt.Errorf("%s: duplicate workload name", where)
		case !dnsLabel.MatchString(w.Namespace):
			return opts, fmt.Errorf("%s: Namespace %q is not a Kubernetes namespace name", where, w.Namespace)
		case !k8sSubName.MatchString(w.ServiceAccount):
			return opts, fmt.Errorf("%s: ServiceAccount %q is not a Kubernetes service account name", where, w.ServiceAccount)
		case w.ClientID == "":
			return opts, fmt.Errorf("%s: ClientID is required", where)
		case clients[strings.ToLower(w.ClientID)]:
			return opts, fmt.Errorf("%s: ClientID %s is used by another workload", where, w.ClientID)
		case w.ObjectID == "":
			return opts, fmt.Errorf("%s: ObjectID is required", where)
		case objects[strings.ToLower(w.ObjectID)]:
			return opts, fmt.Errorf("%s: ObjectID %s is used by another workload", where, w.ObjectID)
		}
		names[w.Name], clients[strings.ToLower(w.ClientID)], objects[strings.ToLower(w.ObjectID)] = true, true, true
		fics := append([]FederatedCredential(nil), w.FederatedCredentials...)
		if len(fics) == 0 {
			fics = []FederatedCredential{{Name: w.Name, Issuer: issuer, Subject: w.Subject()}}
		}
		if len(fics) > maxFederatedCredentials {
			return opts, fmt.Errorf("%s: %d federated credentials, Entra allows at most %d", where, len(fics), maxFederatedCredentials)
		}
		ficNames := map[string]bool{}
		for j := range fics {
			f := &fics[j]
			if f.Name == "" {
				f.Name = fmt.Sprintf("%s-%d", w.Name, j)
			}
			if ficNames[strings.ToLower(f.Name)] {
				return opts, fmt.Errorf("%s: duplicate federated credential name %q", where, f.Name)
			}
			ficNames[strings.ToLower(f.Name)] = true
			if fu, err := url.Parse(f.Issuer); err != nil || fu.Scheme != "https" || fu.Host == "" {
				return opts, fmt.Errorf("%s: federated credential %q: Issuer %q must be an https URL", where, f.Name, f.Issuer)
			}
			if f.Subject == "" {
				return opts, fmt.Errorf("%s: federated credential %q: Subject is required", where, f.Name)
			}
			if len(f.Audiences) == 0 {
				f.Audiences = []string{TokenExchangeAudience}
			}
			// Entra stores exactly one audience per credential.
			if len(f.Audiences) != 1 || f.Audiences[0] == "" {
				return opts, fmt.Errorf("%s: federated credential %q: exactly one audience is allowed, got %q", where, f.Name, f.Audiences)
			}
		}
		w.FederatedCredentials = fics
		ws[i] = w
	}
	opts.Workloads = ws
	return opts, nil
}
