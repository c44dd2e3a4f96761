package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/contoso/orderflow/platform/orders"
)

// statusOf is the one mapping from domain error codes to HTTP statuses.
func statusOf(code string) int {
	switch code {
	case orders.EINVALID:
		return http.StatusBadRequest
	case orders.ENOTFOUND:
		return http.StatusNotFound
	case orders.ECONFLICT:
		return http.StatusConflict
	case orders.EPRECONDITION:
		return http.StatusPreconditionFailed
	case orders.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case orders.EUNSUPPORTED:
		return http.StatusUnsupportedMediaType
	case orders.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// titles are the problem titles per code: short, fixed, and the same for every
// occurrence, as RFC 9457 asks; the specifics go into detail.
var titles = map[string]string{
	orders.EINVALID:      "Your request is not valid.",
	orders.ENOTFOUND:     "Not found.",
	orders.ECONFLICT:     "The request conflicts with the current state.",
	orders.EPRECONDITION: "A precondition failed.",
	orders.ETOOLARGE:     "The request is too large.",
	orders.EUNSUPPORTED:  "The media type is not supported.",
	orders.EUNAVAILABLE:  "A service this API depends on is unavailable; try again shortly.",
	orders.EINTERNAL:     "An internal error has occurred.",
}

// problemError lets a handler give a problem its own type and title (the
// receipt signature check does) while the status still comes from statusOf.
type problemError struct {
	kind  string // fragment of the problem type URI
	title string
	err   error // an *orders.Error chain
}

func (e *problemError) Error() string { return e.title + ": " + e.err.Error() }
func (e *problemError) Unwrap() error { return e.err }

// handleError is Echo's error handler: every error a handler returns becomes a
// problem+json response here and nowhere else.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		// Headers are out (an SSE stream, a streamed receipt): all we can do is log.
		return
	}
	req := c.Request()
	p := Problem{Instance: req.URL.Path}

	var he *echo.HTTPError
	var pe *problemError
	switch {
	case errors.As(err, &he):
		// Routing errors (no such route, wrong method) and anything Echo raises itself.
		p.Status = he.Code
		p.Title = http.StatusText(he.Code)
		if he.Code >= 500 {
			p.Title = titles[orders.EINTERNAL]
		}
	case errors.Is(err, context.Canceled) && req.Context().Err() != nil:
		// The client went away; nobody reads this, so keep it out of the error rate.
		p.Status = 499
		p.Title = "Client closed request"
	default:
		code := orders.ErrorCode(err)
		p.Status = statusOf(code)
		p.Code = code
		p.Type = problemTypeBase + code
		p.Title = titles[code]
		if p.Status < 500 || code == orders.EUNAVAILABLE {
			// Domain messages are written to be shown; internal ones are not,
			// and ErrorMessage already replaces them with a generic sentence.
			p.Detail = orders.ErrorMessage(err)
		}
		for _, fe := range orders.ErrorFields(err) {
			p.Errors = append(p.Errors, FieldError{Field: fe.Field, Message: fe.Message})
		}
		if errors.As(err, &pe) {
			p.Type = problemTypeBase + pe.kind
			p.Title = pe.title
		}
	}
	if p.Status == http.StatusMethodNotAllowed {
		// Echo sets Allow on the response already; keep the problem body consistent.
		p.Detail = "This method is not allowed on " + req.URL.Path + "."
	}
	if id, ok := c.Get(requestIDKey).(string); ok && p.Status >= 500 && p.Detail == "" {
		// A 500 says nothing of the cause, so give the user something to quote.
		p.Detail = "Quote request ID " + id + " when reporting this."
	}
	writeProblem(c.Response(), p)
}
