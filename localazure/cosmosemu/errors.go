package cosmosemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// apiError is an error response in Cosmos's shape: {"code","message"} with the
// HTTP status and the x-ms-substatus header SDKs use to decide on retries.
type apiError struct {
	status    int
	substatus int
	message   string
	extra     http.Header // e.g. the errors JSON for queries lives in message; headers go here
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.status, e.message) }

// codes are the "code" strings Cosmos puts in error bodies.
var codes = map[int]string{
	400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
	405: "MethodNotAllowed", 408: "RequestTimeout", 409: "Conflict", 412: "PreconditionFailed",
	413: "RequestEntityTooLarge", 424: "FailedDependency", 429: "TooManyRequests",
	500: "InternalServerError", 503: "ServiceUnavailable",
}

func errBadRequest(msg string) *apiError { return &apiError{status: 400, message: msg} }

func errNotFound(msg string) *apiError { return &apiError{status: 404, message: msg} }

// errDocNotFound is the 404 for a missing item.
func errDocNotFound() *apiError {
	return errNotFound("Entity with the specified id does not exist in the system. More info: https://aka.ms/cosmosdb-tsg-not-found")
}

// errOwnerNotFound is the 404 for a missing database or container (substatus 1003,
// "owner resource does not exist", as the service sends for a missing parent).
func errOwnerNotFound() *apiError {
	return &apiError{status: 404, substatus: 1003, message: "Resource Not Found. Learn more: https://aka.ms/cosmosdb-tsg-not-found"}
}

func errConflict() *apiError {
	return &apiError{status: 409, message: "Entity with the specified id already exists in the system. More info: https://aka.ms/cosmosdb-tsg-conflict"}
}

func errPrecondition() *apiError {
	return &apiError{status: 412, message: "One of the specified pre-condition is not met. Learn more: https://aka.ms/CosmosDB/sql/errors/precondition-failed"}
}

func errMethod(method string) *apiError {
	return &apiError{status: 405, message: fmt.Sprintf("The requested verb %s is not supported for this resource.", method)}
}

func errUnsupported(what string) *apiError {
	return errBadRequest(fmt.Sprintf("Resource type '%s' is not supported by the local Cosmos DB stand-in.", what))
}

// fail writes e as the response.
func (s *Server) fail(q *request, e *apiError) {
	h := s.setCommon(q, "0")
	h[hSubstatus] = []string{strconv.Itoa(e.substatus)}
	for k, v := range e.extra {
		h[k] = v
	}
	body, _ := json.Marshal(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{codes[e.status], e.message + "\r\nActivityId: " + q.activity + ", Microsoft.Azure.Documents.Common/2.14.0"})
	if e.status >= 500 || e.status == 401 {
		s.log.Warn("request failed", "method", q.r.Method, "path", q.r.URL.Path, "status", e.status, "message", e.message)
	} else {
		s.log.Debug("request failed", "method", q.r.Method, "path", q.r.URL.Path, "status", e.status, "message", e.message)
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	q.w.WriteHeader(e.status)
	if q.r.Method != http.MethodHead {
		_, _ = q.w.Write(body)
	}
}
