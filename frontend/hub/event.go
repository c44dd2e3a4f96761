package hub

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/contoso/orderflow/platform/orders"
)

// PublishEvent feeds one CloudEvent from the order-events topic into the hub;
// ctx is the feed's consumer span for the message, which the SSE push continues.
// It returns an *orders.Error for events that are not for the page (EUNSUPPORTED
// for other types, EINVALID for malformed ones) so the receiver can settle the
// message accordingly.
func (h *Hub) PublishEvent(ctx context.Context, e orders.Event) (int, error) {
	d, err := e.OrderCompleted()
	if err != nil {
		return 0, err
	}
	return h.Publish(StatusEvent{
		OrderID: d.OrderID,
		Status:  string(orders.StatusCompleted),
		At:      d.CompletedAt.UTC().Format(time.RFC3339Nano),
		Trace:   trace.SpanContextFromContext(ctx),
	}), nil
}
