package cosmosemu

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// readBody reads a request body up to the service's 2 MB request limit.
func readBody(r *http.Request) ([]byte, *apiError) {
	const limit = 2 << 20
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, errBadRequest("The request body could not be read: " + err.Error())
	}
	if len(b) > limit {
		return nil, &apiError{status: 413, message: "Request size is too large. Learn more: https://aka.ms/cosmosdb-tsg-request-too-large"}
	}
	return b, nil
}

func isQueryRequest(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("x-ms-documentdb-isquery"), "true") ||
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/query+json")
}

// validID applies Cosmos's rules for user-supplied ids.
func validID(id string) *apiError {
	if id == "" || len(id) > 255 || strings.ContainsAny(id, "/\\?#") {
		return errBadRequest(fmt.Sprintf("The input name '%s' is invalid. Ensure to provide a unique non-empty string less than '255' characters. "+
			"Make sure the name does not contain the characters '/', '\\\\', '?', '#'.", id))
	}
	return nil
}

// nextEtag renders an etag in the service's GUID-like shape, quoted.
func (s *Server) nextEtag(lsn uint64) string {
	var b [40]byte
	out := append(b[:0], '"')
	out = appendHex(out, uint64(s.epoch), 8)
	out = append(out, "-0000-0000-0000-"...)
	out = appendHex(out, lsn, 12)
	out = append(out, '"')
	return string(out)
}

func appendHex(b []byte, v uint64, width int) []byte {
	const digits = "0123456789abcdef"
	for i := width - 1; i >= 0; i-- {
		b = append(b, digits[(v>>(uint(i)*4))&0xf])
	}
	return b
}

// globalLSN numbers database and container changes for their etags.
func (s *Server) globalLSN() uint64 { return s.actSeq.Add(1) }

// writeFeed writes a list of resources as {"_rid", "<Name>": [...], "_count"}.
func (s *Server) writeFeed(q *request, name, rid string, items [][]byte) *apiError {
	var b strings.Builder
	b.WriteString(`{"_rid":`)
	rb, _ := json.Marshal(rid)
	b.Write(rb)
	b.WriteString(`,"` + name + `":[`)
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(it)
	}
	b.WriteString(`],"_count":` + strconv.Itoa(len(items)) + `}`)
	q.w.Header()[hItemCount] = []string{strconv.Itoa(len(items))}
	s.writeJSON(q, http.StatusOK, "1", []byte(b.String()))
	return nil
}
