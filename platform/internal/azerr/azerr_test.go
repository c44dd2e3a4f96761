package azerr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/contoso/orderflow/platform/orders"
)

func TestWrapClassifies(t *testing.T) {
	status := func(s int) error { return fmt.Errorf("sdk: %w", &azcore.ResponseError{StatusCode: s}) }
	cases := []struct {
		err  error
		code string
	}{
		{status(404), orders.ENOTFOUND},
		{status(409), orders.ECONFLICT},
		{status(412), orders.EPRECONDITION},
		{status(400), orders.EINVALID},
		{status(413), orders.ETOOLARGE},
		{status(429), orders.EUNAVAILABLE},
		{status(503), orders.EUNAVAILABLE},
		{status(403), orders.EINTERNAL},
		{status(418), orders.EINTERNAL},
		{context.DeadlineExceeded, orders.EUNAVAILABLE},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, orders.EUNAVAILABLE},
		{errors.New("mystery"), orders.EINTERNAL},
	}
	for _, c := range cases {
		err := Wrap(c.err, "read order 42")
		if orders.ErrorCode(err) != c.code {
			t.Errorf("Wrap(%v) code = %s, want %s", c.err, orders.ErrorCode(err), c.code)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("Wrap(%v) lost its cause", c.err)
		}
	}
	if Wrap(nil, "x") != nil {
		t.Error("Wrap(nil) != nil")
	}
	if msg := orders.ErrorMessage(Wrap(status(403), "read order 42")); msg != "read order 42: access denied (check the workload's role assignments)" {
		t.Errorf("message = %q", msg)
	}
}
