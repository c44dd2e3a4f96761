package api

import (
	"encoding/json"
	"net/http"
)

// problemContentType is the media type of RFC 9457 problem details.
const problemContentType = "application/problem+json"

// Problem is an RFC 9457 problem details object. Every error response of the API
// has this shape so the page can show any of them the same way.
type Problem struct {
	// Type is a URI naming the kind of problem; "about:blank" means the status says it all.
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Instance is the request path the problem occurred on.
	Instance string `json:"instance,omitempty"`
	// Code is the domain error code (EINVALID, ENOTFOUND, ...), an extension member.
	Code string `json:"code,omitempty"`
	// Errors names each bad field of a request, an extension member.
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError names one invalid request field with a JSON-pointer-like path
// ("items[1].quantity") that the page maps to the form control showing it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// problemTypeBase prefixes the problem type URIs; they resolve to the API doc's sections.
const problemTypeBase = "https://github.com/contoso/orderflow/blob/main/docs/frontend-api.md#"

// writeProblem sends p with its status. Errors writing are ignored: the client
// is gone and there is no one left to tell.
func writeProblem(w http.ResponseWriter, p Problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	h := w.Header()
	h.Set("Content-Type", problemContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	// A problem is about this one request; caches must not replay it.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
