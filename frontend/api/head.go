package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// headKey marks, in the Echo context, a HEAD request being served as GET.
const headKey = "head-as-get"

// headAsGet answers HEAD on every GET route as RFC 9110 asks: the same status
// and headers as GET, without the body. It runs before routing (Echo.Pre) so
// the GET route is found, and swaps the writer for one that discards the body;
// net/http would not drop it itself because the request now says GET. Routes
// without GET still answer 405.
func headAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.Method != http.MethodHead {
			return next(c)
		}
		req.Method = http.MethodGet
		c.Set(headKey, true)
		res := c.Response()
		res.Writer = headWriter{res.Writer}
		return next(c)
	}
}

// isHead reports whether the request is a HEAD served as GET, for handlers
// (the SSE stream) that would otherwise keep producing a body nobody reads.
func isHead(c echo.Context) bool {
	v, _ := c.Get(headKey).(bool)
	return v
}

// headWriter drops the body but keeps headers, status and flushes.
type headWriter struct{ http.ResponseWriter }

func (w headWriter) Write(p []byte) (int, error) { return len(p), nil }

// Flush keeps SSE's header flush working through the wrapper.
func (w headWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w headWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
