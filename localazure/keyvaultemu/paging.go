package keyvaultemu

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// maxPageSize is Key Vault's largest (and default) page.
const maxPageSize = 25

// skipToken is the opaque $skiptoken: where the next page starts. A name marker keeps
// paging stable while secrets are added or deleted between pages.
type skipToken struct {
	NextMarker string `json:"NextMarker,omitempty"`
	Offset     int    `json:"Offset,omitempty"`
}

func (t skipToken) encode() string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

// pageParams reads maxresults and $skiptoken.
func pageParams(r *http.Request) (max int, given bool, tok skipToken, kerr *kvError) {
	q := r.URL.Query()
	max = maxPageSize
	if m := q.Get("maxresults"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 1 || n > maxPageSize {
			return 0, false, tok, badParameter("The value of maxresults (%s) is invalid; it must be between 1 and %d.", m, maxPageSize)
		}
		max, given = n, true
	}
	if st := q.Get("$skiptoken"); st != "" {
		b, err := base64.RawURLEncoding.DecodeString(st)
		if err != nil || json.Unmarshal(b, &tok) != nil || tok.Offset < 0 {
			return 0, false, tok, badParameter("The $skiptoken %q is invalid.", st)
		}
	}
	return max, given, tok, nil
}

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request, c caller, apiVersion string) *kvError {
	return s.listNames(w, r, c, apiVersion, false)
}

func (s *Server) listDeleted(w http.ResponseWriter, r *http.Request, c caller, apiVersion string) *kvError {
	return s.listNames(w, r, c, apiVersion, true)
}

func (s *Server) listNames(w http.ResponseWriter, r *http.Request, c caller, apiVersion string, deleted bool) *kvError {
	if kerr := s.authorize(c, actMetadata, ""); kerr != nil {
		return kerr
	}
	max, given, tok, kerr := pageParams(r)
	if kerr != nil {
		return kerr
	}
	items, more := s.store.list(deleted, tok.NextMarker, max)
	out := listJSON{Value: make([]bundleJSON, 0, len(items))}
	path := "/secrets"
	if deleted {
		path = "/deletedsecrets"
	}
	for _, it := range items {
		if deleted {
			out.Value = append(out.Value, s.deletedBundle(it.name, it.v, it.deleted, false))
			continue
		}
		b := s.bundle(it.name, it.v, false)
		b.ID = s.base + "/secrets/" + it.name // list items name the secret, not a version
		out.Value = append(out.Value, b)
	}
	if more {
		last := items[len(items)-1].name
		out.NextLink = s.nextLink(path, apiVersion, skipToken{NextMarker: lower(last)}.encode(), max, given)
	}
	return s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request, c caller, name, apiVersion string) *kvError {
	if kerr := checkName(name); kerr != nil {
		return kerr
	}
	if kerr := s.authorize(c, actMetadata, name); kerr != nil {
		return kerr
	}
	max, given, tok, kerr := pageParams(r)
	if kerr != nil {
		return kerr
	}
	items, more, kerr := s.store.listVersions(name, tok.Offset, max)
	if kerr != nil {
		return kerr
	}
	out := listJSON{Value: make([]bundleJSON, 0, len(items))}
	for _, it := range items {
		out.Value = append(out.Value, s.bundle(it.name, it.v, false))
	}
	if more {
		out.NextLink = s.nextLink("/secrets/"+name+"/versions", apiVersion, skipToken{Offset: tok.Offset + len(items)}.encode(), max, given)
	}
	return s.writeJSON(w, http.StatusOK, out)
}

func lower(s string) string { return strings.ToLower(s) }
