package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/contoso/orderflow/platform/orders"
)

// Var describes one environment variable: its name, default ("" = none), an example,
// which service reads it, and what it is for. Variables() is the single source for
// Load's defaults, for docs/configuration.md and for the cross-check tests.
type Var struct {
	Name        string
	Default     string
	Example     string
	Service     string // "both", "frontend" or "backend"
	Description string
	// Fix is the advice given when the value is missing or invalid; for a bounded
	// number or duration it is derived from Min and Max (see fix).
	Fix string
	// Min and Max bound a number or a Go duration; Load enforces exactly these.
	Min, Max string
}

// fix is the advice for a missing or invalid value: Fix, or for a bounded variable
// the bounds and the default, so that the message and the check cannot disagree.
func (v Var) fix() string {
	if v.Fix != "" || v.Min == "" {
		return v.Fix
	}
	if _, err := time.ParseDuration(v.Min); err == nil {
		return fmt.Sprintf("set it to a Go duration between %s and %s, e.g. %s", v.Min, v.Max, v.Default)
	}
	what := "an integer"
	if strings.HasSuffix(v.Name, "_BYTES") {
		what = "a byte count"
	}
	return fmt.Sprintf("set it to %s between %s and %s", what, v.Min, v.Max)
}

// The services a variable can belong to.
const (
	Both     = "both"
	Frontend = "frontend"
	Backend  = "backend"
)

// Variable names. Shared ones are listed in docs/names.md and must agree with Bicep,
// Kustomize and the local stack.
const (
	EnvClientID           = "AZURE_CLIENT_ID"
	EnvTenantID           = "AZURE_TENANT_ID"
	EnvFederatedTokenFile = "AZURE_FEDERATED_TOKEN_FILE"
	EnvAuthorityHost      = "AZURE_AUTHORITY_HOST"
	EnvKeyVaultURL        = "KEYVAULT_URL"
	EnvKeyVaultAuth       = "KEYVAULT_AUTH"
	EnvCosmosEndpoint     = "COSMOS_ENDPOINT"
	EnvCosmosDatabase     = "COSMOS_DATABASE"
	EnvCosmosContainer    = "COSMOS_CONTAINER"
	EnvCosmosKey          = "COSMOS_KEY"
	EnvBlobEndpoint       = "STORAGE_BLOB_ENDPOINT"
	EnvStorageConnString  = "STORAGE_CONNECTION_STRING"
	EnvAttachments        = "ATTACHMENTS_CONTAINER"
	EnvReceipts           = "RECEIPTS_CONTAINER"
	EnvSBNamespace        = "SERVICEBUS_NAMESPACE"
	EnvSBConnString       = "SERVICEBUS_CONNECTION_STRING"
	EnvOrdersQueue        = "ORDERS_QUEUE"
	EnvEventsTopic        = "EVENTS_TOPIC"
	EnvEventsSubscription = "EVENTS_SUBSCRIPTION"
	EnvReceiptKeySecret   = "RECEIPT_KEY_SECRET"
	EnvLogLevel           = "LOG_LEVEL"
	EnvSSLCertFile        = "SSL_CERT_FILE"
	EnvShutdownTimeout    = "SHUTDOWN_TIMEOUT"

	EnvHTTPAddr               = "HTTP_ADDR"
	EnvTraceViewURL           = "TRACE_VIEW_URL"
	EnvBackendHealthURL       = "BACKEND_HEALTH_URL"
	EnvMaxBodyBytes           = "MAX_BODY_BYTES"
	EnvMaxAttachmentBytes     = "MAX_ATTACHMENT_BYTES"
	EnvAllowedAttachmentTypes = "ALLOWED_ATTACHMENT_TYPES"

	EnvHealthAddr            = "HEALTH_ADDR"
	EnvWorkerConcurrency     = "WORKER_CONCURRENCY"
	EnvWorkerPrefetch        = "WORKER_PREFETCH"
	EnvWorkerProcessingDelay = "WORKER_PROCESSING_DELAY"
	EnvLockRenewInterval     = "LOCK_RENEW_INTERVAL"
	EnvReconcileInterval     = "RECONCILE_INTERVAL"
	EnvReconcileMinAge       = "RECONCILE_MIN_AGE"
	EnvKeyRefreshInterval    = "KEY_REFRESH_INTERVAL"

	// OpenTelemetry's standard variables (opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/).
	// telemetry.Setup reads the two endpoints; the OpenTelemetry SDK reads the rest itself.
	EnvOTLPEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvOTLPTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvOTelServiceName    = "OTEL_SERVICE_NAME"
	EnvOTelResourceAttrs  = "OTEL_RESOURCE_ATTRIBUTES"
	EnvOTelTracesSampler  = "OTEL_TRACES_SAMPLER"
	EnvOTelBSPDelay       = "OTEL_BSP_SCHEDULE_DELAY"
)

// Variables returns every variable the services read, in documentation order.
func Variables() []Var {
	return []Var{
		{Name: EnvClientID, Service: Both, Example: "00000000-0000-0000-0000-000000000000",
			Description: "Client ID of the workload's user-assigned managed identity. Injected by the workload identity webhook on AKS.",
			Fix:         "set it to the managed identity's client ID (the webhook injects it when the pod's service account has the azure.workload.identity/client-id annotation)"},
		{Name: EnvTenantID, Service: Both, Example: "00000000-0000-0000-0000-000000000000",
			Description: "Entra tenant ID. Injected by the webhook.",
			Fix:         "set it to the Entra tenant ID (the webhook injects it)"},
		{Name: EnvFederatedTokenFile, Service: Both, Example: "/var/run/secrets/azure/wi/token/azure-identity-token",
			Description: "Path of the projected service-account token exchanged for Entra tokens. Injected by the webhook: `/var/run/secrets/azure/tokens/azure-identity-token` up to webhook v1.5, the example's path from v1.6.0 (see docs/deployment.md); never hard-code it. When unset, the services fall back to DefaultAzureCredential (e.g. `az login` on a laptop).",
			Fix:         "set it to the projected service account token path, or unset it to use DefaultAzureCredential"},
		{Name: EnvAuthorityHost, Service: Both, Example: "https://login.microsoftonline.com/",
			Description: "Entra authority host, https. Injected by the webhook; `localazure up` points it at the local identity provider.",
			Fix:         "set it to an https URL such as https://login.microsoftonline.com/"},
		{Name: EnvKeyVaultURL, Service: Both, Example: "https://kv-orderflow.vault.azure.net/",
			Description: "Key Vault URL holding the receipt signing key.",
			Fix:         "set it to the Key Vault URL, e.g. https://<vault>.vault.azure.net/"},
		{Name: EnvKeyVaultAuth, Service: Both, Example: "emulator",
			Description: "Emulator only: `emulator` sends a fixed bearer token (Lowkey Vault accepts any) instead of an Entra token.",
			Fix:         "leave it unset, or set it to \"emulator\" for Lowkey Vault"},
		{Name: EnvCosmosEndpoint, Service: Both, Example: "https://cosmos-orderflow.documents.azure.com:443/",
			Description: "Cosmos DB account endpoint.",
			Fix:         "set it to the Cosmos DB account endpoint, e.g. https://<account>.documents.azure.com:443/"},
		{Name: EnvCosmosDatabase, Service: Both, Default: "orderflow", Description: "Cosmos DB database.", Fix: "set it to the database name"},
		{Name: EnvCosmosContainer, Service: Both, Default: "orders", Description: "Cosmos DB container, partitioned by /customerId.", Fix: "set it to the container name"},
		{Name: EnvCosmosKey, Service: Both,
			Description: "Emulator only: Cosmos DB account key used instead of Entra ID.",
			Fix:         "unset it to use Entra ID"},
		{Name: EnvBlobEndpoint, Service: Both, Example: "https://storderflow.blob.core.windows.net/",
			Description: "Blob service endpoint of the storage account. Not needed when STORAGE_CONNECTION_STRING is set.",
			Fix:         "set it to the blob endpoint, e.g. https://<account>.blob.core.windows.net/"},
		{Name: EnvStorageConnString, Service: Both, Example: "UseDevelopmentStorage=true",
			Description: "Emulator only: Azurite connection string used instead of Entra ID.",
			Fix:         "unset it to use Entra ID"},
		{Name: EnvAttachments, Service: Both, Default: "attachments", Description: "Blob container for order attachments.", Fix: "set it to the container name"},
		{Name: EnvReceipts, Service: Both, Default: "receipts", Description: "Blob container for signed receipts.", Fix: "set it to the container name"},
		{Name: EnvSBNamespace, Service: Both, Example: "sb-orderflow.servicebus.windows.net",
			Description: "Fully qualified Service Bus namespace; `host:port` is allowed for a local broker. Not needed when SERVICEBUS_CONNECTION_STRING is set.",
			Fix:         "set it to the fully qualified namespace, e.g. <namespace>.servicebus.windows.net"},
		{Name: EnvSBConnString, Service: Both, Example: "Endpoint=sb://localhost;SharedAccessKeyName=…;SharedAccessKey=…;UseDevelopmentEmulator=true",
			Description: "Emulator only: Service Bus connection string used instead of Entra ID.",
			Fix:         "unset it to use Entra ID"},
		{Name: EnvOrdersQueue, Service: Both, Default: "orders", Description: "Queue carrying OrderPlaced.", Fix: "set it to the queue name"},
		{Name: EnvEventsTopic, Service: Both, Default: "order-events", Description: "Topic carrying OrderCompleted.", Fix: "set it to the topic name"},
		{Name: EnvEventsSubscription, Service: Frontend, Default: "frontend", Description: "The frontend's subscription on the events topic.", Fix: "set it to the subscription name"},
		{Name: EnvReceiptKeySecret, Service: Both, Default: "receipt-signing-key", Description: "Key Vault secret holding the HMAC key that signs receipts.", Fix: "set it to the secret name"},
		{Name: EnvLogLevel, Service: Both, Default: "info", Description: "Log level: debug, info, warn or error.", Fix: "set it to debug, info, warn or error"},
		{Name: EnvSSLCertFile, Service: Both, Example: "/etc/orderflow/ca.pem",
			Description: "PEM file of extra CAs to trust in addition to the system roots (the local stack's CA).",
			Fix:         "set it to a readable PEM file of CA certificates, or unset it"},
		{Name: EnvShutdownTimeout, Service: Both, Default: "25s", Description: "How long a SIGTERM waits for in-flight work; keep it below the pod's terminationGracePeriodSeconds.", Min: "1s", Max: "10m"},

		{Name: EnvHTTPAddr, Service: Frontend, Default: ":8080", Description: "Listen address of the HTTP service: the page, the API, /healthz, /readyz and /metrics (Prometheus; docs/architecture.md#metrics).", Fix: "set it to a listen address such as :8080"},
		{Name: EnvTraceViewURL, Service: Frontend, Example: "http://127.0.0.1:8402/",
			Description: "Where the page links for an order's trace and the access log: localazure's trace view (set by `localazure up`), or on AKS an Application Insights or Grafana view. Unset: no link.",
			Fix:         "set it to an http(s) URL, or unset it"},
		{Name: EnvBackendHealthURL, Service: Frontend, Example: "http://backend.orderflow.svc.cluster.local:8090",
			Description: "Base URL of the backend's health server (HEALTH_ADDR), from which the frontend fetches the backend's `/identity` for the page's identity panel (`GET /api/identity/backend`; the browser cannot reach that port on AKS). `localazure up` sets it from localazure.json, deploy/base to the backend's ClusterIP Service. Unset: the panel says the backend is not configured.",
			Fix:         "set it to an http(s) URL such as http://backend:8090, or unset it"},
		{Name: EnvMaxBodyBytes, Service: Frontend, Default: strconv.Itoa(orders.MaxBodyBytes), Description: "Largest JSON request body, in bytes.", Min: "1024", Max: "1048576"},
		{Name: EnvMaxAttachmentBytes, Service: Frontend, Default: strconv.Itoa(orders.MaxAttachmentBytes), Description: "Largest attachment, in bytes (10 MiB).", Min: "1", Max: "268435456"},
		{Name: EnvAllowedAttachmentTypes, Service: Frontend, Default: strings.Join(orders.DefaultAttachmentTypes, ","),
			Description: "Comma-separated media types accepted as attachments.", Fix: "set it to a comma-separated list of media types such as image/png,application/pdf"},

		{Name: EnvHealthAddr, Service: Backend, Default: ":8090", Description: "Listen address of /healthz, /readyz and /metrics (Prometheus; docs/architecture.md#metrics).", Fix: "set it to a listen address such as :8090"},
		{Name: EnvWorkerConcurrency, Service: Backend, Default: "16", Description: "Messages processed in parallel.", Min: "1", Max: "256"},
		{Name: EnvWorkerPrefetch, Service: Backend, Default: "8", Description: "Extra messages requested per receive beyond those being processed (0 = none; prefetched messages' locks run while they wait).", Min: "0", Max: "1000"},
		{Name: EnvWorkerProcessingDelay, Service: Backend, Default: "0s", Description: "A pause before each message is processed, holding its renewed lock, as if the work were slow: for the redelivery lab (docs/labs.md, Lab 4), where a backend killed mid-pause leaves messages locked until their lock expires. 0s in production.", Min: "0s", Max: "10m"},
		{Name: EnvLockRenewInterval, Service: Backend, Default: "20s", Description: "How often the lock of a message still being processed is renewed; keep it well below the queue's lock duration.", Min: "1s", Max: "5m"},
		{Name: EnvReconcileInterval, Service: Frontend, Default: "30s", Description: "How often the outbox reconciler (which runs in the frontend, the one identity allowed to send to the orders queue) looks for unpublished orders; 0 disables it.", Min: "100ms", Max: "24h", Fix: "set it to a Go duration between 100ms and 24h, e.g. 30s, or 0 to disable"},
		{Name: EnvReconcileMinAge, Service: Frontend, Default: "60s", Description: "How old an unpublished Pending order must be before the reconciler re-sends it.", Min: "1s", Max: "24h"},
		{Name: EnvKeyRefreshInterval, Service: Both, Default: "5m", Description: "How often the current version of the signing key is re-read from Key Vault, so a rotation is picked up without a restart.", Min: "10s", Max: "24h"},

		{Name: EnvOTLPEndpoint, Service: Both, Example: "http://otel-collector.observability:4318",
			Description: "Base URL of an OTLP/HTTP receiver (an OpenTelemetry Collector); spans are posted to `<url>/v1/traces`. When neither this nor OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, traces are propagated (traceparent in, on Service Bus messages and in logs) but not exported. See docs/architecture.md#tracing.",
			Fix:         "set it to an http(s) URL such as http://otel-collector:4318, or unset it"},
		{Name: EnvOTLPTracesEndpoint, Service: Both, Example: "http://otel-collector.observability:4318/v1/traces",
			Description: "Full URL spans are posted to, overriding OTEL_EXPORTER_OTLP_ENDPOINT for traces.",
			Fix:         "set it to an http(s) URL such as http://otel-collector:4318/v1/traces, or unset it"},
		{Name: EnvOTelServiceName, Service: Both, Example: "orderflow-frontend",
			Description: "The `service.name` of the spans; defaults to `frontend` or `backend`. Read by the OpenTelemetry SDK.",
			Fix:         "set it to a service name, or unset it"},
		{Name: EnvOTelResourceAttrs, Service: Both, Example: "deployment.environment.name=prod,k8s.namespace.name=orderflow",
			Description: "Extra resource attributes of the spans, `key=value` pairs separated by commas. Read by the OpenTelemetry SDK.",
			Fix:         "set it to comma-separated key=value pairs, or unset it"},
		{Name: EnvOTelTracesSampler, Service: Both, Default: "parentbased_always_on",
			Description: "Sampler: the default follows the caller's sampled flag and samples new traces; e.g. `parentbased_traceidratio` with OTEL_TRACES_SAMPLER_ARG=0.1 keeps a tenth. Read by the OpenTelemetry SDK.",
			Fix:         "set it to an OpenTelemetry sampler name such as parentbased_always_on, or unset it"},
		{Name: EnvOTelBSPDelay, Service: Both, Default: "5000",
			Description: "Milliseconds between batch exports of spans. Read by the OpenTelemetry SDK.",
			Fix:         "set it to a number of milliseconds, or unset it"},
	}
}

// lookupVar returns the description of a variable; unknown names are programming errors.
func lookupVar(name string) Var {
	for _, v := range Variables() {
		if v.Name == name {
			return v
		}
	}
	panic("config: unknown variable " + name)
}
