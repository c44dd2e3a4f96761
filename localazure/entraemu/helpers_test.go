package entraemu

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/contoso/orderflow/localazure/tlsca"
)

const (
	testTenant    = "11111111-2222-4333-8444-555555555555"
	frontendApp   = "aaaaaaaa-0000-4000-8000-000000000001"
	frontendOID   = "bbbbbbbb-0000-4000-8000-000000000001"
	backendApp    = "aaaaaaaa-0000-4000-8000-000000000002"
	backendOID    = "bbbbbbbb-0000-4000-8000-000000000002"
	vaultScope    = "https://vault.azure.net/.default"
	serviceBusScp = "https://servicebus.azure.net//.default"
)

// testEnv is a running local Entra over TLS from the local CA.
type testEnv struct {
	srv    *Server
	url    string
	client *http.Client // trusts the local CA
}

func testWorkloads() []Workload {
	return []Workload{
		{Name: "frontend", Namespace: "orderflow", ServiceAccount: "frontend", ClientID: frontendApp, ObjectID: frontendOID},
		{Name: "backend", Namespace: "orderflow", ServiceAccount: "backend", ClientID: backendApp, ObjectID: backendOID},
	}
}

// startStub serves h over TLS like startEntra, for benchmark ceilings.
func startStub(t testing.TB, h http.Handler) *testEnv {
	t.Helper()
	ca, err := tlsca.LoadOrCreate("")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(h)
	ts.TLS = cfg
	ts.StartTLS()
	t.Cleanup(ts.Close)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, MaxIdleConnsPerHost: 64}}
	t.Cleanup(client.CloseIdleConnections)
	return &testEnv{url: ts.URL, client: client}
}

// startEntra serves a Server built from opts (AuthorityURL filled in) over TLS.
func startEntra(t testing.TB, edit func(*Options)) *testEnv {
	t.Helper()
	ca, err := tlsca.LoadOrCreate("")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	ts.TLS = cfg
	ts.StartTLS()
	t.Cleanup(ts.Close)
	opts := Options{TenantID: testTenant, AuthorityURL: ts.URL, Workloads: testWorkloads()}
	if edit != nil {
		edit(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h = srv.Handler()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, MaxIdleConnsPerHost: 64}}
	t.Cleanup(client.CloseIdleConnections)
	return &testEnv{srv: srv, url: ts.URL, client: client}
}

func (e *testEnv) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Transport: e.client,
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: e.url + "/"},
	}
}

// assertionCredential drives the real azidentity client with an arbitrary assertion.
func (e *testEnv) assertionCredential(t testing.TB, tenant, clientID, assertion string) *azidentity.ClientAssertionCredential {
	t.Helper()
	cred, err := azidentity.NewClientAssertionCredential(tenant, clientID,
		func(context.Context) (string, error) { return assertion, nil },
		&azidentity.ClientAssertionCredentialOptions{ClientOptions: e.clientOptions(), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// entraReply is a token-endpoint answer, success or failure.
type entraReply struct {
	Status           int
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        any    `json:"expires_in"`
	ExtExpiresIn     any    `json:"ext_expires_in"`
	RefreshIn        any    `json:"refresh_in"`
	Resource         string `json:"resource"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
}

// post sends a form to path and decodes the reply.
func (e *testEnv) post(t testing.TB, path string, form url.Values) entraReply {
	t.Helper()
	res, err := e.client.PostForm(e.url+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var r entraReply
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("POST %s: %d %s: %v", path, res.StatusCode, body, err)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("content-type %q", ct)
	}
	r.Status = res.StatusCode
	return r
}

func (e *testEnv) getJSON(t testing.TB, path string) (int, map[string]any) {
	t.Helper()
	res, err := e.client.Get(e.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		t.Fatalf("GET %s: %d: %v", path, res.StatusCode, err)
	}
	return res.StatusCode, m
}

// exchangeForm is what azidentity sends for a workload identity token request.
func exchangeForm(clientID, assertion, scope string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {clientID},
		"client_assertion_type": {jwtBearer},
		"client_assertion":      {assertion},
		"scope":                 {scope},
	}
}

func (e *testEnv) saToken(t testing.TB, ns, sa string, ttl time.Duration) string {
	t.Helper()
	tok, err := e.srv.ServiceAccountToken(ns, sa, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// claimsOf decodes a JWT's claims without verifying it.
func claimsOf(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func decodeJSON(res *http.Response, v any) error { return json.NewDecoder(res.Body).Decode(v) }
