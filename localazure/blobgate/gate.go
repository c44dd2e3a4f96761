package blobgate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/contoso/orderflow/localazure/authz"
)

// Options configure New.
type Options struct {
	// Upstream is Azurite's base URL, e.g. https://127.0.0.1:41234 (no account path).
	Upstream string
	// Account is the storage account, the first path segment ("devstoreaccount1").
	Account string
	// Transport reaches Azurite (it must trust Azurite's certificate). It should not
	// ask for compression: bodies and their Content-Length pass through as they are.
	Transport http.RoundTripper
	// Verifier checks bearer tokens, Policy the role assignments (storage scopes).
	Verifier authz.Verifier
	Policy   *authz.Policy
	// TenantID names the tenant in the Bearer challenge.
	TenantID string
	Logger   *slog.Logger
}

// Gate authorizes Blob requests and forwards them to Azurite. It is safe for
// concurrent use.
type Gate struct {
	opts  Options
	log   *slog.Logger
	proxy *httputil.ReverseProxy
}

// New validates opts and builds the gate.
func New(opts Options) (*Gate, error) {
	up, err := url.Parse(opts.Upstream)
	if err != nil || up.Host == "" {
		return nil, fmt.Errorf("blobgate: Upstream %q is not a URL", opts.Upstream)
	}
	switch {
	case opts.Account == "":
		return nil, errors.New("blobgate: Account is required")
	case opts.Verifier == nil || opts.Policy == nil:
		return nil, errors.New("blobgate: Verifier and Policy are required")
	case opts.TenantID == "":
		return nil, errors.New("blobgate: TenantID is required")
	case opts.Transport == nil:
		return nil, errors.New("blobgate: Transport is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Gate{opts: opts, log: opts.Logger}
	g.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			// Keep the client's Host: Azurite builds the URLs in its answers (list
			// results, copy sources) from it, and they must name the gate.
			pr.Out.Host = pr.In.Host
		},
		Transport: opts.Transport,
		// Stream downloads as they come rather than in 32 KiB bursts per flush.
		FlushInterval: -1,
		ErrorHandler:  g.upstreamFailed,
	}
	return g, nil
}

// ServeHTTP authorizes r and forwards it.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if token, ok := bearer(r.Header.Get("Authorization")); ok && r.Method != http.MethodOptions {
		if !g.authorize(w, r, token) {
			return
		}
	}
	// Shared Key, SAS and anonymous requests (and CORS preflights, which carry no
	// credentials) are Azurite's to check: it holds the key and the access levels.
	g.proxy.ServeHTTP(w, r)
}

// authorize verifies the token and the role the operation needs, answering the
// refusal itself; it reports whether the request may go on.
func (g *Gate) authorize(w http.ResponseWriter, r *http.Request, token string) bool {
	p, err := g.opts.Verifier.Verify(token, storageResource)
	if err != nil {
		g.log.Info("blob request refused: token does not verify", "method", r.Method, "path", r.URL.Path, "err", err)
		unauthenticated(w, r, g.opts.TenantID, err)
		return false
	}
	op := classify(r.Method, r.URL.Path, r.URL.Query())
	if !g.opts.Policy.Check(r.Context(), authz.Request{Service: "blob", Operation: op.name, Scope: op.scope, Principal: p, Roles: op.access.roles()}) {
		g.log.Info("blob request refused: no role", "operation", op.name, "scope", op.scope, "oid", p.ObjectID, "appid", p.ClientID)
		forbidden(w, r)
		return false
	}
	// A copy also reads its source, which may lie in another container.
	if src := copySourceScope(r.Header.Get("x-ms-copy-source"), g.opts.Account); src != "" &&
		!g.opts.Policy.Check(r.Context(), authz.Request{Service: "blob", Operation: op.name + " (copy source)", Scope: src, Principal: p, Roles: accessRead.roles()}) {
		g.log.Info("blob request refused: no role on the copy source", "operation", op.name, "scope", src, "oid", p.ObjectID)
		forbidden(w, r)
		return false
	}
	return true
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(h string) (string, bool) {
	scheme, token, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true // "" when absent: refused, not passed on
}

// upstreamFailed answers when Azurite cannot be reached or the client went away.
func (g *Gate) upstreamFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client gave up; nobody reads an answer
	}
	g.log.Warn("blob request failed on the way to Azurite", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, r, http.StatusBadGateway, "InternalError", "The local Blob endpoint could not reach Azurite: "+err.Error(), "")
}
