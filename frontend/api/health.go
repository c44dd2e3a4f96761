package api

import (
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/contoso/orderflow/platform/health"
)

// The frontend's /healthz, /readyz and identity panel are platform/health's: the
// same checks, JSON shape and readiness rule as the backend. These names keep
// the package's API (Deps.Checker, tests building a Checker) unchanged.
type (
	// Check probes one dependency; see health.Check.
	Check = health.Check
	// CheckResult is one check's outcome in /readyz and /api/identity.
	CheckResult = health.Result
	// Checker runs the checks and caches their outcome.
	Checker = health.Checker
)

// NewChecker returns a Checker whose results stay fresh for ttl; each check gets timeout.
func NewChecker(checks []Check, ttl, timeout time.Duration, log *slog.Logger) *Checker {
	return health.New(checks, health.Options{TTL: ttl, Timeout: timeout, Logger: log})
}

// healthz answers whether the process is alive; it does no I/O.
func healthz(c echo.Context) error {
	health.Healthz(c.Response(), c.Request())
	return nil
}

// readyz applies platform/health's readiness rule, plus the frontend's drain:
// readiness fails first during shutdown so the Service stops routing here.
func (s *Server) readyz(c echo.Context) error {
	s.checker.ServeReadyz(c.Response(), c.Request(), s.draining())
	return nil
}
