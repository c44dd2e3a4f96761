package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/contoso/orderflow/platform/config"
)

// publicAuthorityHosts are the Entra hosts MSAL knows; for any other host (a sovereign
// cloud's private endpoint, the local stack) instance discovery must be disabled, or
// MSAL first calls login.microsoftonline.com, which fails offline.
var publicAuthorityHosts = map[string]bool{
	"login.microsoftonline.com":        true,
	"login.microsoftonline.us":         true,
	"login.chinacloudapi.cn":           true,
	"login.partner.microsoftonline.cn": true,
	"login.microsoft.com":              true,
	"login.windows.net":                true,
	"sts.windows.net":                  true,
}

// NewCredential returns the workload's credential: WorkloadIdentityCredential when
// AZURE_FEDERATED_TOKEN_FILE is set (the webhook sets it on AKS; `localazure up`
// writes it locally), else DefaultAzureCredential for a developer with `az login`.
// Options are passed explicitly rather than read from the process environment, so
// that several workloads can run in one test process.
func NewCredential(id config.Identity, httpc *http.Client) (azcore.TokenCredential, error) {
	opts := azcore.ClientOptions{Transport: httpc, Retry: tokenRetry()}
	disableDiscovery := false
	if id.AuthorityHost != "" {
		u, err := url.Parse(id.AuthorityHost)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("AZURE_AUTHORITY_HOST %q is not an https URL", id.AuthorityHost)
		}
		opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: id.AuthorityHost, Services: cloud.AzurePublic.Services}
		disableDiscovery = !publicAuthorityHosts[strings.ToLower(u.Hostname())]
	}
	if id.FederatedTokenFile != "" {
		cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions:            opts,
			ClientID:                 id.ClientID,
			TenantID:                 id.TenantID,
			TokenFilePath:            id.FederatedTokenFile,
			DisableInstanceDiscovery: disableDiscovery,
		})
		if err != nil {
			return nil, fmt.Errorf("workload identity credential: %w", err)
		}
		return cred, nil
	}
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
		ClientOptions:            opts,
		TenantID:                 id.TenantID,
		DisableInstanceDiscovery: disableDiscovery,
	})
	if err != nil {
		return nil, fmt.Errorf("default Azure credential: %w", err)
	}
	return cred, nil
}

// ErrNoIdentity explains what to do when no credential yields a token.
var ErrNoIdentity = errors.New("no Azure identity is available: on AKS, label the pod azure.workload.identity/use=\"true\" " +
	"and annotate its service account with azure.workload.identity/client-id (the webhook then sets AZURE_FEDERATED_TOKEN_FILE); " +
	"on a laptop, run `az login` or `localazure up` and source its env file (see docs/configuration.md)")

// ErrTokenRefused means Entra rejected the token request: with workload identity,
// usually a federated identity credential that does not match the pod's token.
var ErrTokenRefused = errors.New("Entra refused the token request")

const tokenRefusedFix = "fix: the managed identity named by AZURE_CLIENT_ID (in the tenant AZURE_TENANT_ID) needs a federated identity credential " +
	"whose issuer is the cluster's OIDC issuer URL, whose subject is system:serviceaccount:<namespace>:<service account> of this pod, " +
	"and whose audience is api://AzureADTokenExchange; compare them with the iss and sub claims of the file in AZURE_FEDERATED_TOKEN_FILE " +
	"(see docs/labs.md, lab 2)"

// aadstsLine finds Entra's "AADSTSnnnn: sentence." in an error text; the sentence may
// hold URLs (with dots), so it ends at a dot followed by a space or the end.
var aadstsLine = regexp.MustCompile(`AADSTS\d+:.*?\.(\s|$)`)

// entraReason is the AADSTS sentence of err, or the first line of it.
func entraReason(msg string) string {
	if m := aadstsLine.FindString(msg); m != "" {
		return strings.TrimSpace(m)
	}
	first, _, _ := strings.Cut(msg, "\n")
	return first
}

// CheckCredential gets one token for scope so that a missing or misconfigured identity
// stops the process at start-up with a clear message instead of failing every request.
func CheckCredential(ctx context.Context, cred azcore.TokenCredential, scope string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}}); err != nil {
		// Entra answered and said no: the identity is configured but does not trust
		// this token. Say so, rather than suggesting the identity is missing.
		var afe *azidentity.AuthenticationFailedError
		if errors.As(err, &afe) && afe.RawResponse != nil && afe.RawResponse.StatusCode >= 400 && afe.RawResponse.StatusCode < 500 {
			return fmt.Errorf("%w: %s\n%s\ncause: %v", ErrTokenRefused, entraReason(err.Error()), tokenRefusedFix, err)
		}
		return fmt.Errorf("%w\ncause: %v", ErrNoIdentity, err)
	}
	return nil
}

// staticToken is the credential for Lowkey Vault (KEYVAULT_AUTH=emulator), which
// accepts any bearer token: it keeps the real challenge-auth code path exercised
// without an identity provider.
type staticToken struct{}

// GetToken implements azcore.TokenCredential with a fixed token valid for an hour.
func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "emulator", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// tokenRetry bounds token requests: Entra is fast or down, and the caller's context
// already bounds the whole operation.
func tokenRetry() policy.RetryOptions {
	return policy.RetryOptions{MaxRetries: 3, RetryDelay: 500 * time.Millisecond, MaxRetryDelay: 5 * time.Second, TryTimeout: 20 * time.Second}
}
