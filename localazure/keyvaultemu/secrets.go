package keyvaultemu

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
)

var versionID = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)

func checkName(name string) *kvError {
	if !secretName.MatchString(name) {
		return badParameter("The request URI contains an invalid name: %s", name)
	}
	return nil
}

func (s *Server) getSecret(w http.ResponseWriter, c caller, name, id string) *kvError {
	if kerr := checkName(name); kerr != nil {
		return kerr
	}
	if kerr := s.authorize(c, actGet, name); kerr != nil {
		return kerr
	}
	if id != "" && !versionID.MatchString(id) {
		return secretNotFound(name + "/" + id)
	}
	canon, v, kerr := s.store.get(name, id)
	if kerr != nil {
		return kerr
	}
	// Key Vault serves secrets outside their nbf/exp window (the attributes are for
	// the application to act on); only a disabled version is refused.
	if !v.enabled {
		return secretDisabled("get")
	}
	return s.writeJSON(w, http.StatusOK, s.bundle(canon, v, true))
}

// secretAttributesIn is the attributes object of a PUT or PATCH body.
type secretAttributesIn struct {
	Enabled   *bool  `json:"enabled"`
	NotBefore *int64 `json:"nbf"`
	Expires   *int64 `json:"exp"`
}

type setBody struct {
	Value       *string             `json:"value"`
	ContentType string              `json:"contentType"`
	Attributes  *secretAttributesIn `json:"attributes"`
	Tags        map[string]string   `json:"tags"`
}

func decodeBody(r *http.Request, v any) *kvError {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return badParameter("The request body could not be read: %v", err)
	}
	if len(b) == 0 {
		return badParameter("The request body is missing.")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return badParameter("The request body is not valid JSON: %v", err)
	}
	return nil
}

func (s *Server) setSecret(w http.ResponseWriter, r *http.Request, c caller, name string) *kvError {
	if kerr := checkName(name); kerr != nil {
		return kerr
	}
	if kerr := s.authorize(c, actSet, name); kerr != nil {
		return kerr
	}
	var body setBody
	if kerr := decodeBody(r, &body); kerr != nil {
		return kerr
	}
	if body.Value == nil {
		return badParameter("The parameter 'value' is required.")
	}
	if msg := checkSecretLimits(*body.Value, body.Tags); msg != "" {
		return badParameter("%s", msg)
	}
	in := setInput{value: *body.Value, contentType: body.ContentType, tags: body.Tags}
	if a := body.Attributes; a != nil {
		in.enabled, in.nbf, in.exp = a.Enabled, a.NotBefore, a.Expires
	}
	canon, v, kerr := s.store.set(name, in, s.now())
	if kerr != nil {
		return kerr
	}
	return s.writeJSON(w, http.StatusOK, s.bundle(canon, v, true))
}

func (s *Server) updateSecret(w http.ResponseWriter, r *http.Request, c caller, name, id string) *kvError {
	if kerr := checkName(name); kerr != nil {
		return kerr
	}
	if kerr := s.authorize(c, actUpdate, name); kerr != nil {
		return kerr
	}
	var body struct {
		ContentType *string             `json:"contentType"`
		Attributes  *secretAttributesIn `json:"attributes"`
		Tags        map[string]string   `json:"tags"`
	}
	if kerr := decodeBody(r, &body); kerr != nil {
		return kerr
	}
	if msg := checkSecretLimits("", body.Tags); msg != "" {
		return badParameter("%s", msg)
	}
	in := updateInput{contentType: body.ContentType, tags: body.Tags, tagsSet: body.Tags != nil}
	if a := body.Attributes; a != nil {
		in.enabled, in.nbf, in.exp = a.Enabled, a.NotBefore, a.Expires
	}
	if id != "" && !versionID.MatchString(id) {
		return secretNotFound(name + "/" + id)
	}
	canon, v, kerr := s.store.update(name, id, in, s.now())
	if kerr != nil {
		return kerr
	}
	return s.writeJSON(w, http.StatusOK, s.bundle(canon, v, false))
}

func (s *Server) deleteSecret(w http.ResponseWriter, c caller, name string) *kvError {
	if kerr := checkName(name); kerr != nil {
		return kerr
	}
	if kerr := s.authorize(c, actDelete, name); kerr != nil {
		return kerr
	}
	d, kerr := s.store.remove(name, s.now())
	if kerr != nil {
		return kerr
	}
	return s.writeJSON(w, http.StatusOK, s.deletedBundle(d.name, d.latest(), d.deleted, true))
}

func (s *Server) getDeleted(w http.ResponseWriter, c caller, name string) *kvError {
	if kerr := checkName(name); kerr != nil {
		return kerr
	}
	if kerr := s.authorize(c, actMetadata, name); kerr != nil {
		return kerr
	}
	d, kerr := s.store.getDeleted(name)
	if kerr != nil {
		return kerr
	}
	return s.writeJSON(w, http.StatusOK, s.deletedBundle(d.name, d.latest(), d.deleted, true))
}

func (s *Server) recoverDeleted(w http.ResponseWriter, c caller, name string) *kvError {
	if kerr := checkName(name); kerr != nil {
		return kerr
	}
	if kerr := s.authorize(c, actRecover, name); kerr != nil {
		return kerr
	}
	canon, v, kerr := s.store.recover(name)
	if kerr != nil {
		return kerr
	}
	return s.writeJSON(w, http.StatusOK, s.bundle(canon, v, false))
}

func (s *Server) purgeDeleted(w http.ResponseWriter, c caller, name string) *kvError {
	if kerr := checkName(name); kerr != nil {
		return kerr
	}
	if kerr := s.authorize(c, actPurge, name); kerr != nil {
		return kerr
	}
	if kerr := s.store.purge(name); kerr != nil {
		return kerr
	}
	w.Header().Del("Content-Type")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// nextLink builds the absolute link to the next page. It keeps the caller's
// api-version, as the service does, because clients follow it verbatim.
func (s *Server) nextLink(path, apiVersion, token string, max int, maxGiven bool) *string {
	q := "api-version=" + url.QueryEscape(apiVersion) + "&$skiptoken=" + url.QueryEscape(token)
	if maxGiven {
		q += "&maxresults=" + itoa(max)
	}
	link := s.base + path + "?" + q
	return &link
}

func itoa(n int) string { return strconv.Itoa(n) }
