package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/contoso/orderflow/platform/azure"
	"github.com/contoso/orderflow/platform/orders"
)

// rawClients are the SDK clients the raw loop uses: the SDKs' default options over the
// app's HTTP transport, the workload identity credential and trust in the local CA;
// nothing else of the app's (no metrics policies, no tracing), so the raw loop is the
// bound the SDKs themselves allow.
type rawClients struct {
	cosmos *azcosmos.ContainerClient
	blob   *azblob.Client
	bus    *azservicebus.Client
	env    func(string) string
}

func newRawClients(getenv func(string) string) (*rawClients, error) {
	need := func(k string) (string, error) {
		if v := getenv(k); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("%s is not set: run the raw loop with the workload's env file (bin/localazure env <workload>)", k)
	}
	var vals [6]string
	for i, k := range []string{"SSL_CERT_FILE", "COSMOS_ENDPOINT", "COSMOS_DATABASE", "COSMOS_CONTAINER", "STORAGE_BLOB_ENDPOINT", "SERVICEBUS_NAMESPACE"} {
		v, err := need(k)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	tlsConfig, err := azure.NewTLSConfig(vals[0])
	if err != nil {
		return nil, err
	}
	// platform/azure's transport (keep-alive, 32 idle connections per host): with
	// net/http's default of 2 idle connections per host the raw loop would pay a TLS
	// handshake on most calls and bound nothing.
	opts := azcore.ClientOptions{Transport: azure.NewHTTPClient(tlsConfig)}
	cred, err := newCredential(getenv, opts)
	if err != nil {
		return nil, err
	}
	cc, err := azcosmos.NewClient(vals[1], cred, &azcosmos.ClientOptions{ClientOptions: opts})
	if err != nil {
		return nil, fmt.Errorf("cosmos client: %w", err)
	}
	container, err := cc.NewContainer(vals[2], vals[3])
	if err != nil {
		return nil, fmt.Errorf("cosmos container: %w", err)
	}
	bc, err := azblob.NewClient(vals[4], cred, &azblob.ClientOptions{ClientOptions: opts})
	if err != nil {
		return nil, fmt.Errorf("blob client: %w", err)
	}
	sb, err := azservicebus.NewClient(vals[5], cred, &azservicebus.ClientOptions{TLSConfig: tlsConfig.Clone()})
	if err != nil {
		return nil, fmt.Errorf("service bus client: %w", err)
	}
	return &rawClients{cosmos: container, blob: bc, bus: sb, env: getenv}, nil
}

// newCredential is the workload identity credential from the webhook's variables.
// Instance discovery is off because the authority is the local Entra, which the SDK's
// discovery against login.microsoftonline.com would not know.
func newCredential(getenv func(string) string, opts azcore.ClientOptions) (*azidentity.WorkloadIdentityCredential, error) {
	opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: getenv("AZURE_AUTHORITY_HOST")}
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: opts, ClientID: getenv("AZURE_CLIENT_ID"), TenantID: getenv("AZURE_TENANT_ID"),
		TokenFilePath: getenv("AZURE_FEDERATED_TOKEN_FILE"), DisableInstanceDiscovery: true,
	})
	if err != nil {
		return nil, fmt.Errorf("workload identity credential: %w", err)
	}
	return cred, nil
}

// busTLS is what a tracker in this process needs to trust the local CA.
func busTLS(caFile string) (*tls.Config, error) { return azure.NewTLSConfig(caFile) }

// retryable reports whether err is worth retrying in the raw loop: the raw loop, like
// the app, must not lose an order to a transient error, or its throughput would look
// better than the work it did.
func retryable(err error) bool {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode == 429 || re.StatusCode >= 500
	}
	return err != nil
}

// serveRaw runs one half of the raw loop, in a process of its own, so that its CPU is
// measured apart: "raw-frontend" places orders on the schedule the driver asks for
// over a control socket; "raw-backend" processes them.
func serveRaw(ctx context.Context, role string) error {
	c, err := newRawClients(os.Getenv)
	if err != nil {
		return err
	}
	defer c.bus.Close(context.Background())
	switch role {
	case "raw-frontend":
		return runRawFrontend(ctx, c, os.Getenv("PIPELINE_CONTROL_ADDR"))
	case "raw-backend":
		return runRawBackend(ctx, c)
	}
	return fmt.Errorf("unknown raw role %q", role)
}

// orderDoc is the document the app stores for an order (platform/cosmos's shape: the
// order plus createdAtMs, which the reconciler's query sorts on).
type orderDoc struct {
	orders.Order
	CreatedAtMs int64 `json:"createdAtMs"`
}

// rawDoc is an order document as read back: the order and the etag Cosmos adds.
type rawDoc struct {
	orders.Order
	ETag string `json:"_etag"`
}

// withRetry calls f until it succeeds, ctx ends or it fails permanently.
func withRetry(ctx context.Context, f func() error) error {
	delay := 20 * time.Millisecond
	for {
		err := f()
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

func decodeDoc(b []byte) (*rawDoc, error) {
	var d rawDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("decode order document: %w", err)
	}
	return &d, nil
}
