// Package azurite runs Azurite, Microsoft's storage emulator, as the local Blob
// Storage. Azurite is pinned in package.json next to this file and installed from npm
// into node_modules (scripts/install-test-deps.sh runs `npm ci` here); this package
// starts its azurite-blob server as a child process over https with OAuth enabled, so
// that apps reach it with the same bearer tokens they use in Azure, waits until it
// answers, creates blob containers, and stops it.
//
// Azurite checks the token's shape (issuer, audience, times) but neither its signature
// nor role assignments: blob RBAC is therefore not enforced locally. Shared Key with
// Azurite's published well-known account key keeps working alongside.
package azurite
