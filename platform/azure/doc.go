// Package azure builds the credential and the Azure SDK clients of a service: the one
// place that knows the difference between workload identity in a cluster,
// DefaultAzureCredential on a laptop, and the emulator keys and connection strings of
// docker-compose. Everything else receives ready clients and never looks at
// credentials or endpoints.
//
// A process calls New once: it gets one credential, one HTTP transport (trusting the
// system roots plus SSL_CERT_FILE) and one client per Azure service, all shared.
package azure
