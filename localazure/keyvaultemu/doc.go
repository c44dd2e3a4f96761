// Package keyvaultemu is a local stand-in for the Azure Key Vault secrets data plane,
// faithful enough on the wire for the unmodified azsecrets client (and the other
// languages' Key Vault SDKs): the bearer challenge, Entra access tokens checked with
// an authz.Verifier, per-identity RBAC with the built-in Key Vault roles, secret
// versions, soft delete, paging with absolute nextLinks, and Key Vault's error bodies.
//
// Everything is in memory; secrets are seeded from Options at start.
package keyvaultemu
