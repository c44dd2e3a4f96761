package health

import "context"

// The probes below are the one way each dependency is checked, the same in both
// services, so that "cosmos: ok" means the same thing on either /readyz.

// Pinger is an adapter that can check its own dependency: cosmos.Store and
// blob.Receipts / blob.Attachments read a document or blob that does not exist,
// so "not found" proves the service is reachable and the identity may read it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Cosmos checks Cosmos DB with the store's Ping.
func Cosmos(store Pinger) Check { return Check{Name: "cosmos", Scope: Shared, Probe: store.Ping} }

// Blob checks Blob Storage with the container adapter's Ping.
func Blob(container Pinger) Check { return Check{Name: "blob", Scope: Shared, Probe: container.Ping} }

// Refresher is keyvault.Secrets: Refresh reads the current version of the signing
// key now. The check refreshes instead of asking SigningKey, which keeps signing
// with the cached version when Key Vault fails and so would hide the failure.
type Refresher interface {
	Refresh(ctx context.Context) error
}

// KeyVault checks Key Vault by refreshing the signing key.
func KeyVault(secrets Refresher) Check {
	return Check{Name: "keyvault", Scope: Shared, Probe: secrets.Refresh}
}

// ServiceBus checks Service Bus by the health of the receive loop the process runs
// (the frontend's event feed, the backend's worker): loopErr returns the last
// receive's failure, or nil. It is Shared: see the package comment.
func ServiceBus(loopErr func() error) Check {
	return Check{Name: "servicebus", Scope: Shared, Probe: func(context.Context) error { return loopErr() }}
}

// IdentityChecker is azure.Clients: CheckIdentity obtains an Entra token with the
// pod's credential (from the credential's cache while it is valid).
type IdentityChecker interface {
	CheckIdentity(ctx context.Context) error
}

// Entra checks the workload identity. It is the one Own check: see the package comment.
func Entra(clients IdentityChecker) Check {
	return Check{Name: "entra-id", Scope: Own, Probe: clients.CheckIdentity}
}
