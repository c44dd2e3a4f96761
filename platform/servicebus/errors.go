package servicebus

import (
	"errors"
	"fmt"

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
			return orders.WrapError(orders.EINTERNAL, what+": access denied (check the workload's Service Bus role assignments)", err)
		case azservicebus.CodeNotFound:
			return orders.WrapError(orders.EINTERNAL, what+": entity not found (check ORDERS_QUEUE / EVENTS_TOPIC)", err)
		default: // connection lost, timeout, closed
			return orders.WrapError(orders.EUNAVAILABLE, what+": Service Bus is unavailable", err)
		}
	}
	return azerr.Wrap(err, what)
}
