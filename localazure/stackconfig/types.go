package stackconfig

import (
	"github.com/contoso/orderflow/localazure/fault"
	"github.com/contoso/orderflow/localazure/servicebusemu"
)

// FileName is the configuration's file name; Find looks for it.
const FileName = "localazure.json"

// Config is a parsed and validated localazure.json.
type Config struct {
	// Path is where the file was read from ("" when parsed from bytes).
	Path string `json:"-"`
	// UserConfig is the Service Bus emulator's Config.json section: the queues,
	// topics and subscriptions.
	UserConfig servicebusemu.UserConfig `json:"UserConfig"`
	LocalAzure LocalAzure               `json:"LocalAzure"`
}

// LocalAzure is the section only the local stand-ins read.
type LocalAzure struct {
	// TenantID is the Entra tenant every token names (AZURE_TENANT_ID).
	TenantID string `json:"tenantId"`
	// Ports the launcher binds on 127.0.0.1; tests use ephemeral ports instead.
	Ports Ports `json:"ports"`
	// Workloads are the Kubernetes workloads and the identities they run as.
	Workloads []Workload `json:"workloads"`
	// RoleAssignments grant workloads data-plane roles, as the Bicep does in Azure.
	RoleAssignments []RoleAssignment `json:"roleAssignments"`
	KeyVault        KeyVault         `json:"keyVault"`
	Cosmos          Cosmos           `json:"cosmos"`
	Storage         Storage          `json:"storage"`
	// Faults are injected from the start (429s, 503s, latency, dropped Service Bus
	// connections, lost locks); `localazure fault` adds more while the stack runs.
	Faults []fault.Rule `json:"faults,omitempty"`
	// EndpointEnv names the variables that carry each stand-in's endpoint to the
	// workloads: the application's own names (orderflow's: KEYVAULT_URL, ...), which
	// localazure does not presume. An empty name passes that endpoint to no one.
	EndpointEnv EndpointEnv `json:"endpointEnv,omitempty"`
	// Env holds extra variables given to every workload, as the Deployment's env does
	// in AKS (database and container names, ...). Workload.Env overrides it.
	Env map[string]string `json:"env,omitempty"`
}

// EndpointEnv maps each endpoint to the variable a workload reads it from.
type EndpointEnv struct {
	KeyVault   string `json:"keyVault,omitempty"`   // the vault URL, with a trailing slash
	Cosmos     string `json:"cosmos,omitempty"`     // the account endpoint, with a trailing slash
	Blob       string `json:"blob,omitempty"`       // the blob service endpoint (only with Blob on)
	ServiceBus string `json:"serviceBus,omitempty"` // host:port of the AMQP-over-TLS listener, the SDKs' "namespace"
	TraceView  string `json:"traceView,omitempty"`  // the trace and access page, for an app that links to it
}

// Names lists the variable names in use, by endpoint.
func (e EndpointEnv) Names() map[string]string {
	out := map[string]string{}
	for endpoint, name := range map[string]string{"keyVault": e.KeyVault, "cosmos": e.Cosmos, "blob": e.Blob, "serviceBus": e.ServiceBus, "traceView": e.TraceView} {
		if name != "" {
			out[endpoint] = name
		}
	}
	return out
}

// Ports are the fixed loopback ports of the launcher. Zero means the default.
type Ports struct {
	Identity        int `json:"identity,omitempty"`        // Entra + the cluster's OIDC issuer, default 8400
	KeyVault        int `json:"keyVault,omitempty"`        // default 8401
	Cosmos          int `json:"cosmos,omitempty"`          // default 8081, as the Cosmos DB emulator
	Blob            int `json:"blob,omitempty"`            // Azurite, default 10000 as Azurite's own default
	ServiceBusAMQP  int `json:"serviceBusAmqp,omitempty"`  // plain AMQP (emulator-style), default 5672
	ServiceBusAMQPS int `json:"serviceBusAmqps,omitempty"` // AMQP over TLS, default 5671
	TraceView       int `json:"traceView,omitempty"`       // OTLP/HTTP receiver and the trace and access page, default 8402
}

// Default ports.
const (
	DefaultIdentityPort        = 8400
	DefaultKeyVaultPort        = 8401
	DefaultCosmosPort          = 8081
	DefaultBlobPort            = 10000
	DefaultServiceBusAMQPPort  = 5672
	DefaultServiceBusAMQPSPort = 5671
	DefaultTraceViewPort       = 8402
)

// Workload is a Kubernetes workload and the Entra identity (a user-assigned managed
// identity in Azure) its service account is federated with.
type Workload struct {
	Name           string `json:"name"`
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	// ClientID is what AZURE_CLIENT_ID carries; ObjectID is the principal id that role
	// assignments name.
	ClientID string `json:"clientId"`
	ObjectID string `json:"objectId"`
	// FederatedCredentials the identity trusts; empty = one for this workload's own
	// service account on the local issuer, as the Bicep creates in Azure.
	FederatedCredentials []FederatedCredential `json:"federatedCredentials,omitempty"`
	// Env holds extra variables for this workload only.
	Env map[string]string `json:"env,omitempty"`
	// Listen maps the variables the workload reads its listen addresses from to the
	// loopback port each gets, e.g. {"HTTP_ADDR": 8080}: the application's own names,
	// which localazure does not presume. The launcher passes 127.0.0.1:<port> (moved
	// by --port-offset) in the workload's environment and env file, checks the ports
	// are free before starting anything, and waits for them to accept connections.
	Listen map[string]int `json:"listen,omitempty"`
	// Open names the Listen variable whose address the launcher announces
	// ("ready — open http://127.0.0.1:<port>/") once it accepts connections.
	Open string `json:"open,omitempty"`
}

// FederatedCredential is a federated identity credential of a workload's identity.
type FederatedCredential struct {
	Name string `json:"name"`
	// Issuer is the OIDC issuer URL; "" = the local cluster issuer.
	Issuer string `json:"issuer,omitempty"`
	// Subject defaults to system:serviceaccount:<namespace>:<serviceAccount>.
	Subject string `json:"subject,omitempty"`
	// Audiences defaults to [api://AzureADTokenExchange]; Entra allows exactly one.
	Audiences []string `json:"audiences,omitempty"`
}

// RoleAssignment grants Role to Principal at Scope and below.
type RoleAssignment struct {
	// Principal is a workload name or a workload's object id.
	Principal string `json:"principal"`
	// Role is an Azure built-in role name, e.g. "Key Vault Secrets User".
	Role string `json:"role"`
	// Scope is a stand-in scope path, e.g. "keyvault", "cosmos/dbs/orderflow",
	// "servicebus/orders", "storage/attachments".
	Scope string `json:"scope"`
}

// KeyVault configures the Key Vault stand-in.
type KeyVault struct {
	Secrets []Secret `json:"secrets,omitempty"`
}

// Secret is a secret seeded into the vault at start.
type Secret struct {
	Name string `json:"name"`
	// Value is the literal value, or "generate:N" for N random bytes, base64-encoded,
	// made at every start so that no secret is committed.
	Value       string            `json:"value"`
	ContentType string            `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Enabled     *bool             `json:"enabled,omitempty"`   // default true
	NotBefore   string            `json:"notBefore,omitempty"` // RFC 3339
	Expires     string            `json:"expires,omitempty"`   // RFC 3339
}

// Cosmos configures the Cosmos DB stand-in.
type Cosmos struct {
	Databases []Database `json:"databases,omitempty"`
}

// Database is a Cosmos DB database created at start.
type Database struct {
	ID         string      `json:"id"`
	Containers []Container `json:"containers,omitempty"`
}

// Container is a Cosmos DB container created at start.
type Container struct {
	ID               string `json:"id"`
	PartitionKeyPath string `json:"partitionKeyPath"`
}

// Storage configures Blob Storage (Azurite).
type Storage struct {
	// Containers are created at start.
	Containers []string `json:"containers,omitempty"`
}
