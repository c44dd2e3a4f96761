package api

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/contoso/orderflow/platform/orders"
)

// receiptView is the response of GET /api/orders/{id}/receipt. It is only ever
// sent with Verified true: a receipt that does not verify is a problem, not a
// receipt with a flag a client might forget to read.
type receiptView struct {
	Receipt    *orders.Receipt `json:"receipt"`
	Verified   bool            `json:"verified"`
	KeyVersion string          `json:"keyVersion"`
}

// receiptInvalid is the problem type and title of a receipt that fails verification.
const (
	receiptInvalidKind  = "receipt-signature"
	receiptInvalidTitle = "receipt signature does not verify"
)

// getReceipt handles GET /api/orders/{id}/receipt: it streams the receipt
// document from Blob Storage, fetches the Key Vault secret version the receipt
// names (so receipts signed before a key rotation still verify) and checks the
// HMAC before serving it.
func (s *Server) getReceipt(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	if err := orders.ValidateOrderID(id); err != nil {
		return err
	}
	rc, err := s.receipts.Get(ctx, id)
	if err != nil {
		if orders.ErrorCode(err) == orders.ENOTFOUND {
			return s.noReceiptYet(c, id, err)
		}
		return fmt.Errorf("open receipt of order %s: %w", id, err)
	}
	defer rc.Close()
	r, err := orders.DecodeReceipt(rc)
	if err != nil {
		// The document is ours, not the caller's input: a malformed one was altered.
		return receiptInvalid(id, "The stored receipt is not a valid receipt document.", err)
	}
	if r.OrderID != id {
		return receiptInvalid(id, "The stored receipt belongs to another order.", nil)
	}
	if !validKeyVersion(r.KeyVersion) {
		// Never let a stored document steer a Key Vault request path.
		return receiptInvalid(id, "The receipt names a malformed signing key version.", nil)
	}
	key, err := s.secrets.KeyVersion(ctx, r.KeyVersion)
	if err != nil {
		if orders.ErrorCode(err) == orders.ENOTFOUND {
			return receiptInvalid(id, fmt.Sprintf("The receipt names signing key version %q, which does not exist.", r.KeyVersion), err)
		}
		return fmt.Errorf("get receipt signing key version %s: %w", r.KeyVersion, err)
	}
	if err := r.Verify(key); err != nil {
		return receiptInvalid(id, "The receipt was altered or signed with another key.", err)
	}
	if err := r.Sum(); err != nil {
		// Signed but inconsistent cannot happen unless the signer had a bug; still refuse it.
		return receiptInvalid(id, "The receipt's amounts do not add up.", err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, receiptView{Receipt: r, Verified: true, KeyVersion: r.KeyVersion})
}

// noReceiptYet tells "no such order" from "not completed yet", which the page
// shows differently.
func (s *Server) noReceiptYet(c echo.Context, id string, cause error) error {
	o, err := s.orders.Get(c.Request().Context(), id)
	if err != nil {
		return fmt.Errorf("get order %s: %w", id, err)
	}
	return orders.WrapError(orders.ENOTFOUND, fmt.Sprintf("Order %s has no receipt yet; its status is %s.", id, o.Status), cause)
}

// receiptInvalid reports a receipt that must not be served as valid. It is a
// conflict (409): the request is fine, the stored state is not.
func receiptInvalid(id, message string, cause error) error {
	return &problemError{
		kind:  receiptInvalidKind,
		title: receiptInvalidTitle,
		err:   &orders.Error{Code: orders.ECONFLICT, Message: fmt.Sprintf("Order %s: %s", id, message), Err: cause},
	}
}

// validKeyVersion accepts what Key Vault secret versions look like (32 hex
// digits) and what the local stand-in and tests use: short [A-Za-z0-9_-] strings.
func validKeyVersion(v string) bool {
	if v == "" || len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
