package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/contoso/orderflow/platform/identity"
)

// Identity is what the workload identity webhook injected into the pod; the
// panel's shape and its token decoding are platform/identity's, shared with the
// backend's GET /identity ("one idea, one shape").
type Identity = identity.Info

// identity serves the workshop's identity panel: platform/identity's View of
// this service (the checks cached 5 s, the probed permissions 30 s).
func (s *Server) identity(c echo.Context) error {
	v := s.identitySrc.View(c.Request().Context())
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, v)
}
