// Package azerr maps errors of the Azure SDK HTTP pipelines to domain error codes, so
// that every adapter classifies failures the same way: what a caller may retry and what
// it must not.
package azerr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/contoso/orderflow/platform/orders"
)

// StatusCode returns the HTTP status of an azcore.ResponseError in err's chain, or 0.
func StatusCode(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// Wrap classifies err (from an SDK call described by what, e.g. "read order 42") as a
// domain error: 404 ENOTFOUND, 409 ECONFLICT, 412 EPRECONDITION, 400 EINVALID,
// 413 ETOOLARGE, throttling, server errors, timeouts and network failures EUNAVAILABLE,
// anything else (401/403 included: a misconfiguration) EINTERNAL.
func Wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	code, msg := Classify(err)
	return &orders.Error{Code: code, Message: fmt.Sprintf("%s: %s", what, msg), Err: err}
}

// Classify returns the domain code of err and a short, user-safe reason.
func Classify(err error) (code, reason string) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return orders.EUNAVAILABLE, "timed out or cancelled"
	}
	switch s := StatusCode(err); {
	case s == http.StatusNotFound:
		return orders.ENOTFOUND, "not found"
	case s == http.StatusConflict:
		return orders.ECONFLICT, "already exists"
	case s == http.StatusPreconditionFailed:
		return orders.EPRECONDITION, "changed by someone else"
	case s == http.StatusBadRequest:
		return orders.EINVALID, "rejected as invalid"
	case s == http.StatusRequestEntityTooLarge:
		return orders.ETOOLARGE, "too large"
	case s == http.StatusTooManyRequests || s == http.StatusRequestTimeout || s >= 500:
		return orders.EUNAVAILABLE, "service unavailable"
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return orders.EINTERNAL, "access denied (check the workload's role assignments)"
	case s != 0:
		return orders.EINTERNAL, fmt.Sprintf("unexpected status %d", s)
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &ne) || errors.As(err, &oe) {
		return orders.EUNAVAILABLE, "network failure"
	}
	return orders.EINTERNAL, "failed"
}
