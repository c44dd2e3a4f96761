package entraemu

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
)

// newUUID returns a random version-4 UUID, the shape of Entra's trace and correlation ids.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// writeJSON answers with v as JSON and the headers Entra sends.
func writeJSON(w http.ResponseWriter, status int, v any, cacheControl string) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", cacheControl)
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("x-ms-request-id", newUUID())
	h.Set("x-ms-ests-server", "localazure")
	if cacheControl == "no-store, no-cache" {
		h.Set("Pragma", "no-cache")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
