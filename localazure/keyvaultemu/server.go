package keyvaultemu

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/contoso/orderflow/localazure/authz"
)

// The audience Key Vault accepts in access tokens (besides the vault's own URL).
const vaultResource = "https://vault.azure.net"

// serviceVersion is what the service reports in x-ms-keyvault-service-version.
const serviceVersion = "1.9.2795.1"

// Server is the local Key Vault. It is safe for concurrent use.
type Server struct {
	opts  Options
	log   *slog.Logger
	base  string // VaultURL without a trailing slash
	name  string // the vault name, the first label of the host
	store *store
	now   func() time.Time
}

// New validates opts, loads the state from opts.DataDir when set, and seeds the vault.
func New(opts Options) (*Server, error) {
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	host := strings.TrimPrefix(strings.TrimPrefix(opts.VaultURL, "https://"), "http://")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	s := &Server{opts: opts, log: opts.Logger, base: opts.VaultURL, name: strings.Split(host, ".")[0], store: newStore(), now: time.Now}
	if opts.DataDir != "" {
		if err := s.store.load(opts.DataDir); err != nil {
			return nil, err
		}
	}
	for _, sec := range opts.Seed {
		key := strings.ToLower(sec.Name)
		if s.store.live[key] != nil || s.store.deleted[key] != nil {
			continue // saved state wins: its versions, values and ids are what clients saw
		}
		in := setInput{value: sec.Value, contentType: sec.ContentType, tags: sec.Tags, enabled: sec.Enabled}
		if sec.NotBefore != nil {
			n := sec.NotBefore.Unix()
			in.nbf = &n
		}
		if sec.Expires != nil {
			x := sec.Expires.Unix()
			in.exp = &x
		}
		if _, _, kerr := s.store.set(sec.Name, in, s.now()); kerr != nil {
			return nil, fmt.Errorf("keyvault: seed %s: %w", sec.Name, kerr)
		}
	}
	if opts.DataDir != "" {
		// Seeded secrets are still only in memory; the compacted rewrite saves them
		// together with the loaded state in one atomic step.
		if s.store.log, err = s.store.openLog(opts.DataDir); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Close releases the data directory's file. Every acknowledged change is already on
// disk, so not calling it (a killed process) loses nothing.
func (s *Server) Close() error {
	if s.store.log == nil {
		return nil
	}
	return s.store.log.close()
}

// Handler serves the secrets data plane.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// caller is the authenticated principal of a request.
type caller struct {
	authz.Principal
	ctx context.Context // the request's, which carries its access-log entry
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &responseWriter{ResponseWriter: w, status: http.StatusOK}
	s.setHeaders(rw, r)
	kerr := s.route(rw, r)
	if kerr != nil {
		s.writeError(rw, kerr)
	}
	level := slog.LevelDebug
	if rw.status >= 400 && rw.status != http.StatusUnauthorized { // 401 is the normal first leg of the challenge
		level = slog.LevelInfo
	}
	s.log.Log(r.Context(), level, "keyvault request", "method", r.Method, "path", r.URL.Path, "status", rw.status, "duration", time.Since(start))
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) *kvError {
	q := r.URL.Query() // decodes an escaped key such as api%2Dversion
	version := q.Get("api-version")
	if kerr := checkAPIVersion(version); kerr != nil {
		return kerr
	}
	c, kerr := s.authenticate(w, r)
	if kerr != nil {
		return kerr
	}
	segs := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch {
	case len(segs) == 1 && segs[0] == "secrets" && r.Method == http.MethodGet:
		return s.listSecrets(w, r, c, version)
	case len(segs) == 2 && segs[0] == "secrets" && segs[1] == "restore" && r.Method == http.MethodPost:
		return notSupported("Restoring a secret backup")
	case len(segs) == 2 && segs[0] == "secrets":
		switch r.Method {
		case http.MethodGet:
			return s.getSecret(w, c, segs[1], "")
		case http.MethodPut:
			return s.setSecret(w, r, c, segs[1])
		case http.MethodDelete:
			return s.deleteSecret(w, c, segs[1])
		case http.MethodPatch:
			return s.updateSecret(w, r, c, segs[1], "")
		}
	case len(segs) == 3 && segs[0] == "secrets" && segs[2] == "versions" && r.Method == http.MethodGet:
		return s.listVersions(w, r, c, segs[1], version)
	case len(segs) == 3 && segs[0] == "secrets" && segs[2] == "backup" && r.Method == http.MethodPost:
		return notSupported("Backing up a secret")
	case len(segs) == 3 && segs[0] == "secrets":
		switch r.Method {
		case http.MethodGet:
			return s.getSecret(w, c, segs[1], segs[2])
		case http.MethodPatch:
			return s.updateSecret(w, r, c, segs[1], segs[2])
		}
	case len(segs) == 1 && segs[0] == "deletedsecrets" && r.Method == http.MethodGet:
		return s.listDeleted(w, r, c, version)
	case len(segs) == 2 && segs[0] == "deletedsecrets":
		switch r.Method {
		case http.MethodGet:
			return s.getDeleted(w, c, segs[1])
		case http.MethodDelete:
			return s.purgeDeleted(w, c, segs[1])
		}
	case len(segs) == 3 && segs[0] == "deletedsecrets" && segs[2] == "recover" && r.Method == http.MethodPost:
		return s.recoverDeleted(w, c, segs[1])
	}
	return badParameter("The request URI %s with method %s is not a Key Vault secrets operation.", r.URL.Path, r.Method)
}

// challenge is the WWW-Authenticate value. The authorization URL is the real
// Entra one, as Key Vault sends it: clients take only the tenant (the third path
// segment) from it and ask their own authority host for the token.
func (s *Server) challenge() string {
	return fmt.Sprintf(`Bearer authorization="https://login.microsoftonline.com/%s", resource="%s"`, s.opts.TenantID, vaultResource)
}

// authenticate checks the bearer token. Every 401 carries the challenge, so a client
// that started without a token (azsecrets always does) learns the tenant and resource.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (caller, *kvError) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		w.Header().Set("WWW-Authenticate", s.challenge())
		return caller{}, unauthorized("AKV10000: Request is missing a Bearer or PoP token.")
	}
	p, err := s.opts.Verifier.Verify(token, vaultResource, s.base)
	if err == nil && !strings.EqualFold(p.TenantID, s.opts.TenantID) {
		err = fmt.Errorf("%w: tenant %s", authz.ErrIssuer, p.TenantID)
	}
	if err != nil {
		w.Header().Set("WWW-Authenticate", s.challenge())
		var msg string
		switch {
		case errors.Is(err, authz.ErrAudience):
			msg = fmt.Sprintf("AKV10022: Invalid audience. Expected %s, found: %s.", vaultResource, strings.TrimPrefix(err.Error(), authz.ErrAudience.Error()+": "))
		case errors.Is(err, authz.ErrIssuer):
			msg = fmt.Sprintf("AKV10032: Invalid issuer. Expected one of https://sts.windows.net/%s/, https://login.microsoftonline.com/%s/v2.0. (%v)", s.opts.TenantID, s.opts.TenantID, err)
		case errors.Is(err, authz.ErrExpired):
			msg = "AKV10021: Token is expired. (" + err.Error() + ")"
		case errors.Is(err, authz.ErrNotYet):
			msg = "AKV10020: Token is not valid yet."
		case errors.Is(err, authz.ErrSignature):
			msg = "AKV10013: Token signature validation failed."
		default:
			msg = "AKV10012: Token is malformed."
		}
		return caller{}, unauthorized(msg)
	}
	return caller{Principal: p, ctx: r.Context()}, nil
}

func (s *Server) setHeaders(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "-1")
	h.Set("x-ms-request-id", newRequestID())
	h.Set("x-ms-keyvault-service-version", serviceVersion)
	h.Set("x-ms-keyvault-region", "local")
	h.Set("x-ms-keyvault-network-info", "conn_type=Ipv4;addr="+remoteIP(r)+";act_addr_fam=InterNetwork;")
	h.Set("Strict-Transport-Security", "max-age=31536000;includeSubDomains")
	h.Set("X-Content-Type-Options", "nosniff")
	if id := r.Header.Get("x-ms-client-request-id"); id != "" {
		h.Set("x-ms-client-request-id", id)
	}
}

func remoteIP(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	x := hex.EncodeToString(b[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) *kvError {
	b, err := json.Marshal(v)
	if err != nil {
		return &kvError{status: http.StatusInternalServerError, code: "InternalServerError", msg: err.Error()}
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}

func (s *Server) writeError(w http.ResponseWriter, e *kvError) {
	b, _ := json.Marshal(e.body())
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

type responseWriter struct {
	http.ResponseWriter
	status int
}

func (w *responseWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
