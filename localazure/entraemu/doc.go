// Package entraemu is the local identity provider for the AKS workload identity flow.
// It plays both halves of that flow in one http.Handler:
//
//   - the cluster's OIDC issuer, which mints Kubernetes service-account tokens
//     (audience api://AzureADTokenExchange) into one token file per workload and
//     rotates them as kubelet does, and serves its discovery document and JWKS;
//   - Microsoft Entra ID, which serves tenant discovery, instance discovery and
//     signing keys, and exchanges a service-account token (a client assertion) for a
//     v1 access token when a federated identity credential of that client trusts it.
//
// Clients are the unmodified Azure SDKs: azidentity's WorkloadIdentityCredential (or
// DefaultAzureCredential) with AZURE_AUTHORITY_HOST pointing here, and MSAL in other
// languages. The other stand-ins check the access tokens with Server.Verifier.
package entraemu
