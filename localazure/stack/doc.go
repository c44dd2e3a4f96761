// Package stack starts the whole local Azure in-process: the local Entra ID and
// cluster OIDC issuer, Key Vault, Cosmos DB and Service Bus stand-ins, and Azurite
// for Blob Storage, all over TLS from one local CA, configured by localazure.json.
//
// It serves two callers. The launcher (cmd/localazure) runs it on the fixed ports of
// the configuration for apps started by hand; integration tests of any module call
// Start in TestMain with ephemeral ports, so that test binaries run in parallel.
// Either way, Env gives each workload exactly the variables the AKS workload identity
// webhook and the Deployment give its pod in Azure, pointed at the stand-ins.
package stack
