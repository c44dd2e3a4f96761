package entraemu

import "strings"

// ServedResources are the application ID URIs of the Azure services the local
// stand-ins play, as the SDKs name them in their scopes. Entra issues tokens only for
// resources whose service principal exists in the tenant; for the local tenant those
// are these, plus whatever Options.Resources adds (endpoint-specific audiences).
var ServedResources = []string{
	"https://vault.azure.net",      // Key Vault
	"https://cosmos.azure.com",     // Cosmos DB (the SDKs also ask for the account endpoint)
	"https://storage.azure.com",    // Blob Storage
	"https://servicebus.azure.net", // Service Bus (asked as https://servicebus.azure.net//.default)
}

// resourceSet matches requested resources the way Entra matches an application ID
// URI: case-insensitively, and a trailing slash names the same resource (the Service
// Bus scope's double slash leaves one).
type resourceSet map[string]bool

func newResourceSet(extra []string) resourceSet {
	rs := resourceSet{}
	for _, r := range append(append([]string(nil), ServedResources...), extra...) {
		rs[resourceKey(r)] = true
	}
	return rs
}

func resourceKey(r string) string { return strings.TrimRight(strings.ToLower(r), "/") }

func (rs resourceSet) has(resource string) bool { return rs[resourceKey(resource)] }
