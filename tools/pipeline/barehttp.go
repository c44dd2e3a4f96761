package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/contoso/orderflow/platform/orders"
)

// bareOrders is POST /api/orders as the least an HTTP service in front of the raw
// calls has to do: net/http with no framework, the body decoded with one
// json.Unmarshal, the order built and validated by the domain, rawPlace's SDK calls,
// and a small JSON answer. No middleware, request log, metrics, tracing, duplicate-key
// check or field-by-field errors. Measured as the "bare" side (-bare), it is the floor
// of any HTTP frontend making these calls, so the app's own layers show as the gap
// between app and bare, and the cost of serving HTTP at all as the gap between bare
// and raw.
func bareOrders(ctx context.Context, container *azcosmos.ContainerClient, sender *azservicebus.Sender, catalog *orders.Catalog) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, orders.MaxBodyBytes))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var in orders.PlaceOrderInput
		if err := json.Unmarshal(b, &in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		o, err := orders.NewOrder(in, catalog, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := rawPlace(r.Context(), container, sender, o); err != nil {
			if ctx.Err() == nil {
				slog.Warn("bare place failed", "order_id", o.ID, "err", err)
			}
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", "/api/orders/"+url.PathEscape(o.ID)) // as the API does
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"id":%q,"status":%q}`, o.ID, o.Status)
	}
}
