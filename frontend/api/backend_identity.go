package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/contoso/orderflow/platform/identity"
)

// backendIdentityTimeout bounds the fetch of the backend's view: above the
// backend's own bounds (0.8 s per check, 5 s per permission probe, concurrent),
// so a slow round still arrives, and short enough for a page that waits on it.
const backendIdentityTimeout = 8 * time.Second

// maxBackendIdentityBytes bounds the body read from the backend; a real view is
// a few KiB.
const maxBackendIdentityBytes = 1 << 20

// backendIdentityView is the GET /api/identity/backend body. It is always 200:
// a backend that is not configured or cannot be reached is a state the panel
// shows, not an error of this request.
type backendIdentityView struct {
	// Configured is false when BACKEND_HEALTH_URL is not set.
	Configured bool `json:"configured"`
	// Reachable is true when the backend answered its view, which is then Identity.
	Reachable bool           `json:"reachable"`
	URL       string         `json:"url,omitempty"`
	Error     string         `json:"error,omitempty"`
	Identity  *identity.View `json:"identity,omitempty"`
}

// backendIdentity serves the backend's identity panel, fetched server-side from
// its health port (GET <BACKEND_HEALTH_URL>/identity): on AKS that port is only
// reachable inside the cluster, never from the browser.
func (s *Server) backendIdentity(c echo.Context) error {
	v := backendIdentityView{URL: s.backendURL}
	if s.backendURL == "" {
		v.Error = "BACKEND_HEALTH_URL is not set, so the frontend does not know where the backend's health port is"
	} else {
		v.Configured = true
		id, err := s.fetchBackendIdentity(c.Request().Context())
		if err != nil {
			s.log.WarnContext(c.Request().Context(), "fetch backend identity", "url", s.backendURL, "err", err)
			v.Error = summarizeFetch(err)
		} else {
			v.Reachable, v.Identity = true, id
		}
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, v)
}

func (s *Server) fetchBackendIdentity(ctx context.Context) (*identity.View, error) {
	ctx, cancel := context.WithTimeout(ctx, backendIdentityTimeout)
	defer cancel()
	u := strings.TrimSuffix(s.backendURL, "/") + "/identity"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.backendClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: status %d", u, resp.StatusCode)
	}
	var v identity.View
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBackendIdentityBytes)).Decode(&v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", u, err)
	}
	return &v, nil
}

// summarizeFetch is the one line the panel shows; the full error is logged.
func summarizeFetch(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "connection refused"):
		return "the backend's health port refused the connection (is the backend running?): " + msg
	case strings.Contains(msg, "context deadline exceeded"), strings.Contains(msg, "Client.Timeout"):
		return fmt.Sprintf("the backend did not answer within %s (a NetworkPolicy dropping the traffic looks like this): %s", backendIdentityTimeout, msg)
	}
	return msg
}
