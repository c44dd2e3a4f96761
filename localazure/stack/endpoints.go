package stack

// Endpoints are where the stand-ins listen, as clients name them.
type Endpoints struct {
	// Authority is the Entra authority host (AZURE_AUTHORITY_HOST), with a trailing slash.
	Authority string
	// IssuerURL is the cluster OIDC issuer of the service-account tokens.
	IssuerURL string
	// KeyVault is the vault URL (KEYVAULT_URL), with a trailing slash.
	KeyVault string
	// Cosmos is the account endpoint (COSMOS_ENDPOINT), with a trailing slash.
	Cosmos string
	// CosmosKey is the account key, for clients using key auth as with the emulator.
	CosmosKey string
	// Blob is the blob service endpoint (STORAGE_BLOB_ENDPOINT) with a trailing slash,
	// or "" when Azurite was not started.
	Blob string
	// BlobConnectionString is the Shared Key connection string of Azurite's
	// development account, or "" when Azurite was not started.
	BlobConnectionString string
	// ServiceBusAMQPS is host:port of the AMQP-over-TLS listener (SERVICEBUS_NAMESPACE).
	ServiceBusAMQPS string
	// TraceView is the OTLP/HTTP receiver and the trace and access page
	// (http://127.0.0.1:8402/ from the launcher), plain HTTP on loopback.
	TraceView string
	// ServiceBusAMQP is host:port of the plain AMQP listener, as the emulator offers.
	ServiceBusAMQP string
	// ServiceBusConnectionString is the emulator-style connection string (plain AMQP,
	// SAS with the emulator's well-known key).
	ServiceBusConnectionString string
}
