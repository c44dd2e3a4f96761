package servicebus

import (
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/contoso/orderflow/platform/internal/azerr"
	"github.com/contoso/orderflow/platform/orders"
)

// ErrLockLost reports a settlement or renewal on a message whose lock expired or was
// lost: the broker will redeliver it, and the caller must not settle it again.
var ErrLockLost = errors.New("message lock lost")

// wrap classifies a Service Bus error as a domain error.
func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	var sbe *azservicebus.Error
	if errors.As(err, &sbe) {
		switch sbe.Code {
		case azservicebus.CodeLockLost:
			return fmt.Errorf("%s: %w: %w", what, ErrLockLost, err)
		case azservicebus.CodeUnauthorizedAccess:
			return orders.WrapError(orders.EINTERNAL, what+": "+unauthorizedHint(err), err)
		case azservicebus.CodeNotFound:
			return orders.WrapError(orders.EINTERNAL, what+": entity not found (check ORDERS_QUEUE / EVENTS_TOPIC)", err)
		default: // connection lost, timeout, closed
			return orders.WrapError(orders.EUNAVAILABLE, what+": Service Bus is unavailable", err)
		}
	}
	return azerr.Wrap(err, what)
}

// missingClaim is how Service Bus words a refusal for want of a role: the token was
// accepted, but its identity lacks the Send/Listen/Manage right on the entity
// ("Unauthorized access. 'Send' claim(s) are required to perform this operation.
// Resource: 'sb://…'", as reported from Azure with an Entra identity lacking the
// Data Sender role: https://github.com/microsoft/azure-spring-boot/issues/939, and
// https://github.com/Azure/azure-service-bus/issues/354).
// Any other unauthorized-access error is the token itself being refused (expired,
// for another audience, or signed by a key the broker does not know, such as a
// token from before the local stack restarted), which no role assignment fixes.
const missingClaim = "claim(s) are required"

func unauthorizedHint(err error) string {
	if strings.Contains(err.Error(), missingClaim) {
		return "access denied (check the workload's Service Bus role assignments)"
	}
	return "the broker refused the workload's token (not a role assignment problem; the cause below says why)"
}
