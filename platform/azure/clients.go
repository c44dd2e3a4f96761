package azure

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"go.opentelemetry.io/otel"

	"github.com/contoso/orderflow/platform/config"
	"github.com/contoso/orderflow/platform/metrics"
	"github.com/contoso/orderflow/platform/telemetry"
)

// Clients are a process's shared credential, transport and one client per Azure
// service. The SDK clients are safe for concurrent use.
type Clients struct {
	// Credential is nil when every service uses an emulator override.
	Credential azcore.TokenCredential
	HTTP       *http.Client
	TLS        *tls.Config

	Cosmos     *azcosmos.Client
	Orders     *azcosmos.ContainerClient // COSMOS_DATABASE / COSMOS_CONTAINER
	Blob       *azblob.Client
	ServiceBus *azservicebus.Client
	Secrets    *azsecrets.Client

	cfg config.Config
}

// Auth describes how each service authenticates, for the start-up log line.
func (c *Clients) Auth() map[string]string {
	m := map[string]string{"keyvault": "entra", "cosmos": "entra", "blob": "entra", "servicebus": "entra"}
	if c.cfg.KeyVault.Emulator {
		m["keyvault"] = "emulator"
	}
	if c.cfg.Cosmos.Key != "" {
		m["cosmos"] = "key"
	}
	if c.cfg.Storage.ConnectionString != "" {
		m["blob"] = "connection-string"
	}
	if c.cfg.ServiceBus.ConnectionString != "" {
		m["servicebus"] = "connection-string"
	}
	return m
}

// New builds the credential and every client from cfg. It does not contact any
// service; call CheckIdentity to fail fast on a missing identity.
func New(cfg config.Config, log *slog.Logger, opts ...Option) (*Clients, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	// Per-call policies of each HTTP-based client; empty without WithMetrics.
	perCall := func(dependency string, operation func(*http.Request) string) []policy.Policy {
		if o.metrics == nil {
			return nil
		}
		return []policy.Policy{newMetricsPolicy(o.metrics, dependency, operation)}
	}
	tlsConfig, err := NewTLSConfig(cfg.SSLCertFile)
	if err != nil {
		return nil, err
	}
	c := &Clients{HTTP: NewHTTPClient(tlsConfig), TLS: tlsConfig, cfg: cfg}

	needEntra := !cfg.KeyVault.Emulator || cfg.Cosmos.Key == "" || cfg.Storage.ConnectionString == "" || cfg.ServiceBus.ConnectionString == ""
	if needEntra {
		if c.Credential, err = NewCredential(cfg.Identity, c.HTTP); err != nil {
			return nil, err
		}
	}

	if c.Cosmos, err = newCosmos(cfg.Cosmos, c.Credential, c.HTTP, perCall(metrics.DependencyCosmos, cosmosOperation)); err != nil {
		return nil, fmt.Errorf("cosmos client for %s: %w", cfg.Cosmos.Endpoint, err)
	}
	if c.Orders, err = c.Cosmos.NewContainer(cfg.Cosmos.Database, cfg.Cosmos.Container); err != nil {
		return nil, fmt.Errorf("cosmos container %s/%s: %w", cfg.Cosmos.Database, cfg.Cosmos.Container, err)
	}
	if c.Blob, err = newBlob(cfg.Storage, c.Credential, c.HTTP, perCall(metrics.DependencyBlob, blobOperation)); err != nil {
		return nil, fmt.Errorf("blob client: %w", err)
	}
	if c.ServiceBus, err = newServiceBus(cfg.ServiceBus, c.Credential, tlsConfig); err != nil {
		return nil, fmt.Errorf("service bus client: %w", err)
	}
	if c.Secrets, err = newSecrets(cfg.KeyVault, c.Credential, c.HTTP, perCall(metrics.DependencyKeyVault, keyVaultOperation)); err != nil {
		return nil, fmt.Errorf("key vault client for %s: %w", cfg.KeyVault.URL, err)
	}
	if log != nil {
		log.Info("azure clients ready", "auth", c.Auth(), "workload_identity", cfg.Identity.FederatedTokenFile != "",
			"client_id", cfg.Identity.ClientID, "authority_host", cfg.Identity.AuthorityHost)
	}
	return c, nil
}

// CheckIdentity obtains one Entra token (for Key Vault, or whichever service uses
// Entra) so that a process without an identity stops at start-up with ErrNoIdentity.
// It does nothing when every service uses an emulator override.
func (c *Clients) CheckIdentity(ctx context.Context) error {
	if c.Credential == nil {
		return nil
	}
	scope := "https://vault.azure.net/.default"
	switch {
	case !c.cfg.KeyVault.Emulator:
	case c.cfg.Storage.ConnectionString == "":
		scope = "https://storage.azure.com/.default"
	case c.cfg.ServiceBus.ConnectionString == "":
		scope = "https://servicebus.azure.net//.default"
	default:
		u, _ := url.Parse(c.cfg.Cosmos.Endpoint)
		scope = u.Scheme + "://" + u.Hostname() + "/.default"
	}
	return CheckCredential(ctx, c.Credential, scope)
}

// Close releases the Service Bus connection and idle HTTP connections.
func (c *Clients) Close(ctx context.Context) error {
	var err error
	if c.ServiceBus != nil {
		err = c.ServiceBus.Close(ctx)
	}
	c.HTTP.CloseIdleConnections()
	return err
}

// tracingProvider makes the HTTP-based clients' operations spans of the process's
// TracerProvider (telemetry.Setup). otel's global provider delegates to whatever is
// installed later, so building clients before Setup would still trace. Service Bus
// has no such hook; platform/servicebus traces it itself.
//
// When Setup installed the provider that exports nothing, the clients get none: the
// SDKs would start two spans per call (operation and HTTP try) and convert their
// attributes only for them to be dropped, and these spans carry nothing on (the
// SDKs send no traceparent without a propagator), so the calls' trace context is
// the caller's span either way.
func tracingProvider() tracing.Provider {
	tp := otel.GetTracerProvider()
	if !telemetry.Records(tp) {
		return tracing.Provider{}
	}
	return telemetry.AzureTracingProvider(tp)
}

// httpRetry is the retry policy of the HTTP-based clients: a few quick retries of
// throttling and transient failures, each try bounded, well inside the lock duration
// of the message being processed.
func httpRetry(tryTimeout time.Duration) policy.RetryOptions {
	return policy.RetryOptions{MaxRetries: 3, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: 3 * time.Second, TryTimeout: tryTimeout}
}

func newCosmos(cfg config.Cosmos, cred azcore.TokenCredential, httpc *http.Client, perCall []policy.Policy) (*azcosmos.Client, error) {
	opts := &azcosmos.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: httpc, Retry: httpRetry(15 * time.Second), TracingProvider: tracingProvider(), PerCallPolicies: perCall}}
	if cfg.Key != "" {
		key, err := azcosmos.NewKeyCredential(cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("COSMOS_KEY: %w", err)
		}
		return azcosmos.NewClientWithKey(cfg.Endpoint, key, opts)
	}
	return azcosmos.NewClient(cfg.Endpoint, cred, opts)
}

func newBlob(cfg config.Storage, cred azcore.TokenCredential, httpc *http.Client, perCall []policy.Policy) (*azblob.Client, error) {
	// Uploads stream in blocks; a try covers one block, so a minute is generous.
	opts := &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: httpc, Retry: httpRetry(time.Minute), TracingProvider: tracingProvider(),
		PerCallPolicies: blobPolicies(perCall),
	}}
	if cfg.ConnectionString != "" {
		return azblob.NewClientFromConnectionString(cfg.ConnectionString, opts)
	}
	return azblob.NewClient(cfg.BlobEndpoint, cred, opts)
}

// blobPolicies are the Blob client's per-call policies: perCall, after the span
// policy when spans are kept. Without an exporter that span would be built and
// dropped on every call, and it carries nothing on: the blob request sends no
// traceparent either way.
func blobPolicies(perCall []policy.Policy) []policy.Policy {
	if !telemetry.Records(otel.GetTracerProvider()) {
		return perCall
	}
	return append([]policy.Policy{newBlobTracePolicy()}, perCall...)
}

func newSecrets(cfg config.KeyVault, cred azcore.TokenCredential, httpc *http.Client, perCall []policy.Policy) (*azsecrets.Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, err
	}
	opts := &azsecrets.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: httpc, Retry: httpRetry(15 * time.Second), TracingProvider: tracingProvider(), PerCallPolicies: perCall},
		// The challenge names the resource; the SDK insists the vault host ends in
		// .vault.azure.net. Only a vault on this machine (the local stack, Lowkey Vault)
		// is exempt: anywhere else the check protects the token.
		DisableChallengeResourceVerification: IsLoopback(u.Hostname()),
	}
	if cfg.Emulator {
		// KEYVAULT_AUTH=emulator exists for docker-compose's Lowkey Vault, which accepts
		// any bearer token, lives at a compose host name (not under vault.azure.net) and
		// serves a self-signed certificate made inside its image. So, for this one
		// client and only on that explicit opt-in: a placeholder token, no challenge
		// resource check, and no certificate verification. Never set it against Azure.
		cred = staticToken{}
		opts.DisableChallengeResourceVerification = true
		opts.Transport = emulatorHTTPClient()
		opts.APIVersion = EmulatorKeyVaultAPIVersion
	}
	return azsecrets.NewClient(cfg.URL, cred, opts)
}

func newServiceBus(cfg config.ServiceBus, cred azcore.TokenCredential, tlsConfig *tls.Config) (*azservicebus.Client, error) {
	opts := &azservicebus.ClientOptions{
		ApplicationID: "orderflow",
		// Connection-level retries: a few, quickly; the worker abandons and the broker
		// redelivers for anything longer.
		RetryOptions: azservicebus.RetryOptions{MaxRetries: 3, RetryDelay: 500 * time.Millisecond, MaxRetryDelay: 5 * time.Second},
	}
	if cfg.ConnectionString != "" {
		// The emulator's connection string (UseDevelopmentEmulator=true) selects plain
		// AMQP itself; TLS settings do not apply.
		return azservicebus.NewClientFromConnectionString(cfg.ConnectionString, opts)
	}
	if cred == nil {
		return nil, errors.New("no credential")
	}
	// "host:port" (a local broker) is passed through as the namespace: the client dials
	// amqps://host:port and uses the host for TLS; the token audiences carry the port,
	// which Service Bus accepts. A bare FQDN dials 5671 as usual.
	opts.TLSConfig = tlsConfig.Clone()
	if host, _, err := net.SplitHostPort(cfg.Namespace); err == nil {
		opts.TLSConfig.ServerName = host
	}
	return azservicebus.NewClient(cfg.Namespace, cred, opts)
}

// IsLoopback reports whether host is localhost or a loopback address.
func IsLoopback(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
