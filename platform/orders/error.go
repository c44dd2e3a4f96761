package orders

import (
	"errors"
	"fmt"
	"strings"
)

// Domain error codes. They describe what went wrong in terms a caller can act on;
// the frontend maps each to an HTTP status in one place, the worker decides from them
// whether a message is worth retrying.
const (
	EINVALID      = "invalid"             // the input breaks a rule; see Error.Fields
	ENOTFOUND     = "not_found"           // the thing does not exist (or is not the caller's)
	ECONFLICT     = "conflict"            // it already exists, or the state forbids the change
	EPRECONDITION = "precondition_failed" // an etag or If-None-Match condition did not hold
	EUNAVAILABLE  = "unavailable"         // a dependency is down or throttling; retry later
	EINTERNAL     = "internal"            // a bug or an unexpected failure
	ETOOLARGE     = "too_large"           // a body or attachment exceeds its limit
	EUNSUPPORTED  = "unsupported"         // a media type, event type or version we do not handle
)

// FieldError names one invalid input field with a JSON-path-like name
// ("items[0].quantity") and a human-readable message.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the domain error. Code is one of the E* constants, Message is safe to show
// to a user, Fields lists per-field problems for EINVALID, and Err keeps the underlying
// cause for logs (it is never shown to users).
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
	Err     error
}

// Error implements error. It includes the cause so logs carry it.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause, so errors.Is and errors.As see through the domain error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with code and a formatted user-facing message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with code and message that keeps cause for logs.
func WrapError(code, message string, cause error) *Error {
	return &Error{Code: code, Message: message, Err: cause}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for a nil error and
// EINTERNAL for any other error: an error nobody classified is treated as a bug.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of the first *Error in err's chain, or
// a generic message for anything else so that internal details never reach a user.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return "An internal error has occurred."
}

// ErrorFields returns the per-field problems of the first *Error in err's chain.
func ErrorFields(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// IsRetryable reports whether err is worth retrying as is: dependencies being
// unavailable, stale etags (re-read and try again) and unclassified errors are; bad
// input, missing things, conflicting state and unsupported contracts are not, since
// trying again cannot change the answer.
func IsRetryable(err error) bool {
	switch ErrorCode(err) {
	case EINVALID, ENOTFOUND, ECONFLICT, EUNSUPPORTED, ETOOLARGE:
		return false
	default:
		return err != nil
	}
}
