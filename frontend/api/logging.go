package api

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/contoso/orderflow/platform/metrics"
)

// requestIDHeader carries a request ID in and out, so a user's report can be
// matched to the log line.
const requestIDHeader = "X-Request-Id"

// requestLog logs one line per request. It logs the route pattern and path but
// never the query string, headers or bodies: those are where tokens, customer
// data and continuation tokens would be. Handlers add what the request did (the
// order it placed) with logAttrs, so a request is one line, not two: log volume is
// a cost per order (docs/performance.md).
func requestLog(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Path() == metrics.Path {
				return next(c) // a line per scrape would drown the requests
			}
			start := time.Now()
			req := c.Request()
			id := req.Header.Get(requestIDHeader)
			if !validRequestID(id) {
				id = newRequestID()
			}
			c.Response().Header().Set(requestIDHeader, id)
			c.Set(requestIDKey, id)

			err := next(c)
			if err != nil {
				// Let the error handler write the problem now, so the status logged is
				// the status sent.
				c.Error(err)
			}
			status := c.Response().Status
			level := slog.LevelInfo
			switch {
			case status >= 500:
				level = slog.LevelError
			case status >= 400:
				level = slog.LevelWarn
			}
			attrs := []slog.Attr{
				slog.String("method", req.Method),
				slog.String("route", c.Path()),
				slog.String("path", req.URL.Path),
				slog.Int("status", status),
				slog.Int64("bytes", c.Response().Size),
				slog.Duration("duration", time.Since(start)),
				slog.String("request_id", id),
			}
			if extra, ok := c.Get(logAttrsKey).([]slog.Attr); ok {
				attrs = append(attrs, extra...)
			}
			if err != nil {
				attrs = append(attrs, slog.String("err", err.Error()))
			}
			log.LogAttrs(req.Context(), level, "request", attrs...)
			return nil
		}
	}
}

// requestIDKey is the echo.Context key of the request ID.
const requestIDKey = "request_id"

// logAttrsKey is the echo.Context key of the attributes a handler adds to its
// request's log line.
const logAttrsKey = "log_attrs"

// logAttrs adds attributes to the request's one log line.
func logAttrs(c echo.Context, attrs ...slog.Attr) {
	prev, _ := c.Get(logAttrsKey).([]slog.Attr)
	c.Set(logAttrsKey, append(prev, attrs...))
}

// validRequestID accepts short IDs of safe characters only, so a client cannot
// inject log lines or huge values through the header.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !isIDByte(id[i]) {
			return false
		}
	}
	return true
}

func isIDByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// securityHeaders sets headers every response should carry; the page loads
// only its own assets, so the content security policy can be strict.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		return next(c)
	}
}
