package fault

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// throttle answers as each service does when a client sends too much:
//   - Cosmos DB: 429, substatus 3200, x-ms-retry-after-ms
//     (https://learn.microsoft.com/rest/api/cosmos-db/http-status-codes-for-cosmosdb);
//   - Key Vault: 429 with Retry-After in seconds
//     (https://learn.microsoft.com/azure/key-vault/general/overview-throttling);
//   - Blob Storage: 503 ServerBusy, which is how Storage throttles
//     (https://learn.microsoft.com/rest/api/storageservices/blob-service-error-codes);
//   - Entra ID: 429 with Retry-After and the OAuth temporarily_unavailable error.
//
// The Azure SDKs honour these hints (azcore reads retry-after-ms,
// x-ms-retry-after-ms and Retry-After, in that order).
func throttle(service string, w http.ResponseWriter, after time.Duration) {
	h := w.Header()
	secs := strconv.Itoa(max(1, int((after+time.Second-1)/time.Second)))
	switch service {
	case "cosmos":
		h["x-ms-retry-after-ms"] = []string{strconv.FormatInt(after.Milliseconds(), 10)}
		h["x-ms-substatus"] = []string{"3200"}
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"code": "TooManyRequests",
			"message": `Message: {"Errors":["Request rate is large. More Request Units may be needed, so no changes were made. Please retry this request later."]}` + " (injected by localazure)"})
	case "keyvault":
		h.Set("Retry-After", secs)
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": map[string]string{"code": "Throttled",
			"message": "Request was not processed because too many requests were received. (injected by localazure)"}})
	case "blob":
		// Storage's ServerBusy carries no retry hint; the SDK backs off on its own.
		storageError(w, http.StatusServiceUnavailable, "ServerBusy", "The server is currently unable to receive requests. Please retry your request.")
	default: // identity
		h.Set("Retry-After", secs)
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "temporarily_unavailable",
			"error_description": "Too many requests; retry after " + secs + " s. (injected by localazure)"})
	}
}

// unavailable answers 503 in the service's error shape.
func unavailable(service string, w http.ResponseWriter) {
	const msg = "The service is temporarily unavailable. (injected by localazure)"
	switch service {
	case "cosmos":
		w.Header()["x-ms-substatus"] = []string{"0"}
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"code": "ServiceUnavailable", "message": msg})
	case "keyvault":
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": map[string]string{"code": "ServiceUnavailable", "message": msg}})
	case "blob":
		storageError(w, http.StatusServiceUnavailable, "ServerBusy", "The server is currently unable to receive requests. Please retry your request.")
	default:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable", "error_description": msg})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// storageError is Azure Storage's XML error with x-ms-error-code.
func storageError(w http.ResponseWriter, status int, code, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h["x-ms-error-code"] = []string{code}
	w.WriteHeader(status)
	fmt.Fprintf(w, "\ufeff<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>%s</Code><Message>%s\nTime:%s</Message></Error>",
		code, msg, time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z"))
}
