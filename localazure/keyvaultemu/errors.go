package keyvaultemu

import (
	"fmt"
	"net/http"
)

// kvError is a Key Vault error body: {"error":{"code","message","innererror"}}.
type kvError struct {
	status int
	code   string
	msg    string
	inner  string // innererror.code, "" for none
}

func (e *kvError) Error() string { return e.code + ": " + e.msg }

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code       string      `json:"code"`
	Message    string      `json:"message"`
	InnerError *innerError `json:"innererror,omitempty"`
}

type innerError struct {
	Code string `json:"code"`
}

func (e *kvError) body() errorBody {
	b := errorBody{Error: errorDetail{Code: e.code, Message: e.msg}}
	if e.inner != "" {
		b.Error.InnerError = &innerError{Code: e.inner}
	}
	return b
}

func badParameter(format string, args ...any) *kvError {
	return &kvError{status: http.StatusBadRequest, code: "BadParameter", msg: fmt.Sprintf(format, args...)}
}

func unauthorized(msg string) *kvError {
	return &kvError{status: http.StatusUnauthorized, code: "Unauthorized", msg: msg}
}

func secretNotFound(nameOrID string) *kvError {
	return &kvError{status: http.StatusNotFound, code: "SecretNotFound", msg: fmt.Sprintf("A secret with (name/id) %s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", nameOrID)}
}

func deletedSecretNotFound(name string) *kvError {
	return &kvError{status: http.StatusNotFound, code: "SecretNotFound", msg: fmt.Sprintf("Deleted Secret not found: %s", name)}
}

func secretDisabled(op string) *kvError {
	return &kvError{status: http.StatusForbidden, code: "Forbidden", msg: fmt.Sprintf("Operation %s is not allowed on a disabled secret.", op), inner: "SecretDisabled"}
}

func deletedButRecoverable(name string) *kvError {
	return &kvError{status: http.StatusConflict, code: "Conflict", msg: fmt.Sprintf("Secret %s is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.", name), inner: "ObjectIsDeletedButRecoverable"}
}

func notSupported(what string) *kvError {
	return &kvError{status: http.StatusNotImplemented, code: "NotSupported", msg: fmt.Sprintf("%s is not supported by the local Key Vault stand-in.", what)}
}

// persistFailed answers a change that could not be written to the data directory;
// the change was not made.
func persistFailed(err error) *kvError {
	return &kvError{status: http.StatusInternalServerError, code: "InternalServerError", msg: fmt.Sprintf("The change could not be saved and was not made: %v", err)}
}
