// Package health is the backend's health server, its only HTTP listener:
// /healthz and /readyz from platform/health (the same checks, JSON shape and
// readiness rule as the frontend) and /metrics, which the PodMonitor scrapes.
package health

import (
	"net/http"

	"github.com/contoso/orderflow/platform/health"
)

// Handler serves GET /healthz and GET /readyz from checker, and GET /metrics from
// metrics when it is not nil.
func Handler(checker *health.Checker, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	// The backend does not drain behind a Service (it takes no requests): readiness
	// is only its checks, and it stops with the process.
	mux.Handle("/", checker.Handler(nil))
	return mux
}
