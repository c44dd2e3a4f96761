package entraemu

import (
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/contoso/orderflow/localazure/authz"
)

// Server is the local identity provider. It is immutable after New and safe for
// concurrent use; Run is the only part with a lifecycle (the token files).
type Server struct {
	opts      Options
	log       *slog.Logger
	issuer    string // the cluster OIDC issuer URL, AuthorityURL+IssuerPath
	stsIssuer string // iss of the access tokens: https://sts.windows.net/<tenant>/

	saKey    *signingKey // the cluster's service-account signing key
	entraKey *signingKey // Entra's token signing key, deliberately a different key

	byClient  map[string]*Workload // lower-cased client id
	resources resourceSet          // what tokens may be issued for
	// oidcKeys resolves a token signing key by the assertion's issuer, as Entra resolves
	// it through the issuer's discovery document. Only the local issuer is reachable.
	oidcKeys map[string]func(kid string) *rsa.PublicKey

	verifier *authz.TokenVerifier
	now      func() time.Time
	handler  http.Handler
}

// New validates opts and makes the server's signing keys.
func New(opts Options) (*Server, error) {
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	saKey, err := newSigningKey("localazure service-account issuer")
	if err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	entraKey, err := newSigningKey("accounts.accesscontrol.windows.net")
	if err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	s := &Server{
		opts:      opts,
		log:       opts.Logger,
		issuer:    opts.AuthorityURL + opts.IssuerPath,
		stsIssuer: "https://sts.windows.net/" + opts.TenantID + "/",
		saKey:     saKey,
		entraKey:  entraKey,
		byClient:  map[string]*Workload{},
		resources: newResourceSet(opts.Resources),
		now:       time.Now,
	}
	for i := range s.opts.Workloads {
		w := &s.opts.Workloads[i]
		s.byClient[strings.ToLower(w.ClientID)] = w
	}
	s.oidcKeys = map[string]func(string) *rsa.PublicKey{
		s.issuer: func(kid string) *rsa.PublicKey {
			if kid == s.saKey.kid {
				return &s.saKey.priv.PublicKey
			}
			return nil
		},
	}
	s.verifier = authz.NewTokenVerifier(s.stsIssuer, map[string]*rsa.PublicKey{entraKey.kid: &entraKey.priv.PublicKey})
	s.handler = s.routes()
	return s, nil
}

// Handler serves the issuer's and Entra's endpoints.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	ip := s.opts.IssuerPath
	mux.HandleFunc("GET "+ip+"/.well-known/openid-configuration", s.issuerDiscovery)
	mux.HandleFunc("GET "+ip+"/openid/v1/jwks", s.issuerJWKS)

	mux.HandleFunc("GET /common/discovery/instance", s.instanceDiscovery)
	mux.HandleFunc("GET /common/discovery/keys", s.entraJWKS)
	mux.HandleFunc("GET /{tenant}/discovery/keys", s.entraJWKS)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.entraJWKS)
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.tenantDiscoveryV2)
	mux.HandleFunc("GET /{tenant}/.well-known/openid-configuration", s.tenantDiscoveryV1)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.tokenV2)
	mux.HandleFunc("POST /{tenant}/oauth2/token", s.tokenV1)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/token", s.tokenWrongMethod)
	mux.HandleFunc("GET /{tenant}/oauth2/token", s.tokenWrongMethod)
	mux.HandleFunc("GET /error", s.errorPage) // where token errors' error_uri points
	return logRequests(s.log, mux)
}

// Verifier checks the access tokens this server issues (issuer https://sts.windows.net/<tenant>/).
func (s *Server) Verifier() authz.Verifier { return s.verifier }

// IssuerURL is the cluster OIDC issuer URL, the iss of service-account tokens.
func (s *Server) IssuerURL() string { return s.issuer }

// AuthorityURL is the normalised public base URL (what AZURE_AUTHORITY_HOST is set to).
func (s *Server) AuthorityURL() string { return s.opts.AuthorityURL }

// TenantID is the tenant this server answers for.
func (s *Server) TenantID() string { return s.opts.TenantID }

// Workloads are (copies of) the configured workloads with their federated
// credentials filled in, e.g. for the launcher to print what each identity trusts.
func (s *Server) Workloads() []Workload {
	out := make([]Workload, len(s.opts.Workloads))
	for i, w := range s.opts.Workloads {
		w.FederatedCredentials = append([]FederatedCredential(nil), w.FederatedCredentials...)
		for j := range w.FederatedCredentials {
			w.FederatedCredentials[j].Audiences = append([]string(nil), w.FederatedCredentials[j].Audiences...)
		}
		out[i] = w
	}
	return out
}

// TokenFile is the path of the service-account token file of the named workload
// (<TokenDir>/<workload>/azure-identity-token, the file name the AKS webhook uses),
// or "" when no TokenDir is set or no such workload exists.
func (s *Server) TokenFile(workload string) string {
	if s.opts.TokenDir == "" {
		return ""
	}
	for _, w := range s.opts.Workloads {
		if w.Name == workload {
			return filepath.Join(s.opts.TokenDir, w.Name, "azure-identity-token")
		}
	}
	return ""
}

// logRequests logs each request at debug level, and failures at info, without tokens.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r)
		level := slog.LevelDebug
		if rec.status >= 400 {
			level = slog.LevelInfo
		}
		log.Log(r.Context(), level, "entra request", "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "duration", time.Since(start))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
