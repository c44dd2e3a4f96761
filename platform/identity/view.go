package identity

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/contoso/orderflow/platform/health"
)

// Info is what the workload identity webhook injected into the pod: the managed
// identity's client ID, the tenant, the authority, and where the projected
// service-account token is. None of it is secret except the token file's content,
// which this package only ever decodes, never returns.
type Info struct {
	Service       string
	ClientID      string
	TenantID      string
	AuthorityHost string
	TokenFile     string
	// TraceView is where the page links for traces and the access log ("" = none).
	TraceView string
}

// View is the identity panel's JSON: GET /api/identity (frontend) and GET
// /identity (backend's health port) both answer it.
type View struct {
	Service       string          `json:"service"`
	ClientID      string          `json:"clientId"`
	TenantID      string          `json:"tenantId"`
	AuthorityHost string          `json:"authorityHost"`
	Token         *Claims         `json:"token,omitempty"`
	TokenError    string          `json:"tokenError,omitempty"`
	Dependencies  []health.Result `json:"dependencies"`
	// Permissions is absent when the service was built without a Prober (tests).
	Permissions *Permissions `json:"permissions,omitempty"`
	TraceView   string       `json:"traceView,omitempty"`
}

// Source builds a service's View from its Info and its live parts.
type Source struct {
	Info Info
	// Checker gives the dependency checks (nil = none).
	Checker *health.Checker
	// Prober gives the permissions (nil = the view has none).
	Prober *Prober
	Logger *slog.Logger
}

// View assembles the panel: the checks and the permissions are cached by their
// owners (5 s and 30 s by default), so building a view is cheap.
func (s *Source) View(ctx context.Context) View {
	id := s.Info
	v := View{
		Service: id.Service, ClientID: id.ClientID, TenantID: id.TenantID,
		AuthorityHost: id.AuthorityHost, TraceView: id.TraceView,
	}
	if s.Checker != nil {
		v.Dependencies = s.Checker.Results(ctx)
	}
	if v.Dependencies == nil {
		v.Dependencies = []health.Result{}
	}
	if id.TokenFile == "" {
		v.TokenError = "AZURE_FEDERATED_TOKEN_FILE is not set"
	} else if claims, err := ReadClaims(id.TokenFile); err != nil {
		s.logger().Warn("read projected token", "err", err)
		v.TokenError = "the projected service account token could not be read"
	} else {
		v.Token = claims
	}
	if s.Prober != nil {
		v.Permissions = s.Prober.Get(ctx)
	}
	return v
}

// ServeHTTP answers the View as JSON, never cached by the client (it is live).
func (s *Source) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := json.Marshal(s.View(r.Context()))
	if err != nil {
		s.logger().Error("encode identity view", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(b, '\n'))
}

func (s *Source) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}
