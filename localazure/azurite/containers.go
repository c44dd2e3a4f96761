package azurite

import (
	"context"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
)

// WellKnownKey is Azurite's published well-known account key for devstoreaccount1,
// documented by Microsoft for the storage emulators; it is not a secret.
const WellKnownKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// ConnectionString is the Shared Key connection string for this server, the form
// apps use with the emulator (STORAGE_CONNECTION_STRING).
func (s *Server) ConnectionString() string {
	return fmt.Sprintf("DefaultEndpointsProtocol=https;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;", Account, WellKnownKey, s.URL())
}

// CreateContainers creates the named containers, keeping those that exist (a
// persistent data directory keeps them across starts). hc must trust the server.
func (s *Server) CreateContainers(ctx context.Context, hc *http.Client, names ...string) error {
	cred, err := azblob.NewSharedKeyCredential(Account, WellKnownKey)
	if err != nil {
		return fmt.Errorf("azurite: %w", err)
	}
	client, err := azblob.NewClientWithSharedKeyCredential(s.URL()+"/", cred, &azblob.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: hc, Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	if err != nil {
		return fmt.Errorf("azurite: %w", err)
	}
	for _, n := range names {
		if _, err := client.CreateContainer(ctx, n, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
			return fmt.Errorf("azurite: create container %s: %w", n, err)
		}
	}
	return nil
}
