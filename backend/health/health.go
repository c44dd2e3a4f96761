// Package health is the backend's health server, its only HTTP listener:
// /healthz and /readyz from platform/health (the same checks, JSON shape and
// readiness rule as the frontend), /metrics, which the PodMonitor scrapes, and
// /identity, the backend's half of the page's identity panel (platform/identity's
// View, the same shape as the frontend's /api/identity), which the frontend
// fetches server-side since the browser cannot reach this port on AKS.
package health

import (
	"net/http"

	"github.com/contoso/orderflow/platform/health"
)

// Handler serves GET /healthz and GET /readyz from checker, GET /metrics from
// metrics and GET /identity from identity, each when it is not nil.
func Handler(checker *health.Checker, metrics, identity http.Handler) http.Handler {
	mux := http.NewServeMux()
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	if identity != nil {
		// It shows client IDs and token claims, never a token or a secret: no more
		// than the pod spec and `kubectl describe` already show to whoever can reach
		// this port (the frontend, the scraper, a port-forward).
		mux.Handle("GET /identity", identity)
	}
	// The backend does not drain behind a Service (it takes no requests): readiness
	// is only its checks, and it stops with the process.
	mux.Handle("/", checker.Handler(nil))
	return mux
}
