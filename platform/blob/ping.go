package blob

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/contoso/orderflow/platform/internal/azerr"
)

// ping reads the properties of a blob that does not exist: 404 means the container is
// reachable and the identity may read it; 403 means a missing role assignment.
func ping(ctx context.Context, c *azblob.Client, container string) error {
	_, err := c.ServiceClient().NewContainerClient(container).NewBlobClient("readiness-probe").GetProperties(ctx, nil)
	if err == nil || azerr.StatusCode(err) == 404 {
		return nil
	}
	return azerr.Wrap(err, fmt.Sprintf("ping blob container %s", container))
}

// Ping checks that the receipts container is reachable and readable.
func (s *Receipts) Ping(ctx context.Context) error { return ping(ctx, s.c, s.container) }

// Ping checks that the attachments container is reachable and readable.
func (s *Attachments) Ping(ctx context.Context) error { return ping(ctx, s.c, s.container) }
