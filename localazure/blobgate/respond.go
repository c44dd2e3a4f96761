package blobgate

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/contoso/orderflow/localazure/authz"
)

// storageResource is the resource Blob Storage names in its Bearer challenge, the
// audience its tokens carry.
const storageResource = "https://storage.azure.com"

// blobError is Blob Storage's XML error body.
type blobError struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
	// AuthenticationErrorDetail says why a token was refused, as the service does.
	Detail string `xml:"AuthenticationErrorDetail,omitempty"`
}

// writeError answers as Blob Storage does: the status, x-ms-error-code, a request id
// (also at the end of the message, with the time), and the XML body except for HEAD.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg, detail string) {
	id := requestID()
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("x-ms-error-code", code)
	h.Set("x-ms-request-id", id)
	if v := r.Header.Get("x-ms-version"); v != "" {
		h.Set("x-ms-version", v)
	}
	if v := r.Header.Get("x-ms-client-request-id"); v != "" {
		h.Set("x-ms-client-request-id", v)
	}
	body, err := xml.Marshal(blobError{
		Code:    code,
		Message: msg + "\nRequestId:" + id + "\nTime:" + time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z"),
		Detail:  detail,
	})
	if err != nil { // cannot happen with string fields; answer without a body
		w.WriteHeader(status)
		return
	}
	body = append([]byte(xml.Header), body...)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// forbidden is the answer to a valid token whose principal lacks the role.
func forbidden(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusForbidden, "AuthorizationPermissionMismatch",
		"This request is not authorized to perform this operation using this permission.", "")
}

// unauthenticated is the answer to a bearer token that does not verify, with the
// challenge that tells clients which tenant and resource to ask for a token.
func unauthenticated(w http.ResponseWriter, r *http.Request, tenant string, err error) {
	w.Header().Set("WWW-Authenticate", "Bearer authorization_uri=https://login.microsoftonline.com/"+tenant+"/oauth2/authorize resource_id="+storageResource)
	writeError(w, r, http.StatusUnauthorized, "InvalidAuthenticationInfo",
		"Server failed to authenticate the request. Please refer to the information in the www-authenticate header.", authDetail(err))
}

// authDetail words a verification failure as Blob Storage's AuthenticationErrorDetail.
func authDetail(err error) string {
	switch {
	case errors.Is(err, authz.ErrExpired):
		return "Lifetime validation failed. The token is expired."
	case errors.Is(err, authz.ErrNotYet):
		return "Lifetime validation failed. The token is not yet valid."
	case errors.Is(err, authz.ErrAudience):
		return "Audience validation failed. Audience did not match."
	case errors.Is(err, authz.ErrIssuer):
		return "Issuer validation failed. Issuer did not match."
	case errors.Is(err, authz.ErrSignature):
		return "Signature validation failed. Signature is invalid."
	}
	return "The token is malformed: " + err.Error()
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	s := hex.EncodeToString(b[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}
