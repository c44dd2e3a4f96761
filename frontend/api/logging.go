package api

import (
	"context"
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
			line := requestLine{
				ctx: req.Context(), method: req.Method, route: c.Path(), path: req.URL.Path,
				status: c.Response().Status, bytes: c.Response().Size, start: start, id: id, err: err,
			}
			line.extra, _ = c.Get(logAttrsKey).([]slog.Attr)
			if st := handedOver(c); st != nil {
				// An SSE stream's line is written when the stream ends, as it was
				// when its handler kept it: with its whole duration and body.
				// A copy, so that only handed-over requests move a line to the heap.
				l := line
				st.onEnd(func(written int64) { l.write(log, written) })
				return nil
			}
			line.write(log, 0)
			return nil
		}
	}
}

// requestLine is what requestLog writes about one request.
type requestLine struct {
	ctx                 context.Context
	method, route, path string
	status              int
	bytes               int64
	start               time.Time
	id                  string
	extra               []slog.Attr
	err                 error
}

// write logs the line; more is body bytes written past echo's count (by a
// stream after its hand-over).
func (l *requestLine) write(log *slog.Logger, more int64) {
	level := slog.LevelInfo
	switch {
	case l.status >= 500:
		level = slog.LevelError
	case l.status >= 400:
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("method", l.method),
		slog.String("route", l.route),
		slog.String("path", l.path),
		slog.Int("status", l.status),
		slog.Int64("bytes", l.bytes+more),
		slog.Duration("duration", time.Since(l.start)),
		slog.String("request_id", l.id),
	}
	attrs = append(attrs, l.extra...)
	if l.err != nil {
		attrs = append(attrs, slog.String("err", l.err.Error()))
	}
	// The record is built here, not with log.LogAttrs: that captures the caller's
	// program counter (a runtime.Callers per request) for a source the handler never
	// prints (platform/telemetry sets no AddSource) and that would always name this line.
	if !log.Enabled(l.ctx, level) {
		return
	}
	r := slog.NewRecord(time.Now(), level, "request", 0)
	r.AddAttrs(attrs...)
	_ = log.Handler().Handle(l.ctx, r)
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
