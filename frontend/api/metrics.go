package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/contoso/orderflow/platform/metrics"
)

// observeHTTP counts and times every request by method, route template and status
// (RED). It runs after Echo routed the request, so c.Path() is the template
// ("/api/orders/:id"), never the raw path with its order IDs, and outside requestLog,
// which has already written any error response, so the status is the one sent.
// Scrapes of /metrics are left out: they would only measure the scraper.
func (s *Server) observeHTTP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		route := c.Path()
		if route == metrics.Path {
			return next(c)
		}
		start := time.Now()
		err := next(c)
		if route == "" {
			route = "unmatched" // no route: one series for every stray path
		}
		method := methodLabel(c.Request().Method)
		status := statusLabel(c.Response().Status)
		if st := handedOver(c); st != nil {
			// An SSE stream is counted and timed when it ends: its duration is its
			// lifetime, as when its handler kept it.
			st.onEnd(func(int64) { s.observeRequest(method, route, status, start) })
			return err
		}
		s.observeRequest(method, route, status, start)
		return err
	}
}

func (s *Server) observeRequest(method, route, status string, start time.Time) {
	s.metrics.HTTPRequests.WithLabelValues(method, route, status).Inc()
	s.metrics.HTTPDuration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
}

// methodLabel keeps the method label to the standard methods: a client can send any
// token as a method, and each would otherwise become a series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// statusLabel formats the status code without allocating for the common ones.
func statusLabel(code int) string {
	switch code {
	case http.StatusOK:
		return "200"
	case http.StatusAccepted:
		return "202"
	case http.StatusNotFound:
		return "404"
	}
	return strconv.Itoa(code)
}
