package entraemu

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/authz"
)

func TestTokenEndpointSuccessShapes(t *testing.T) {
	e := startEntra(t, nil)
	sa := e.saToken(t, "orderflow", "frontend", time.Hour)
	tokenPath := "/" + testTenant + "/oauth2/v2.0/token"

	// What azidentity sends (OIDC scopes, client_info, claims) and what other clients send.
	full := exchangeForm(frontendApp, sa, vaultScope+" openid offline_access profile")
	full.Set("client_info", "1")
	full.Set("claims", `{"access_token":{"xms_cc":{"values":["CP1"]}}}`)
	for name, form := range map[string]url.Values{"msal-go": full, "bare": exchangeForm(frontendApp, sa, vaultScope)} {
		r := e.post(t, tokenPath, form)
		if r.Status != 200 || r.TokenType != "Bearer" || r.AccessToken == "" {
			t.Fatalf("%s: %+v", name, r)
		}
		if n, ok := r.ExpiresIn.(float64); !ok || n < 3590 || n > 3600 {
			t.Errorf("%s: expires_in %v", name, r.ExpiresIn)
		}
		if r.ExtExpiresIn == nil || r.RefreshIn != nil {
			t.Errorf("%s: ext_expires_in %v refresh_in %v", name, r.ExtExpiresIn, r.RefreshIn)
		}
	}

	// Client ids are GUIDs and compare case-insensitively.
	if r := e.post(t, tokenPath, exchangeForm(strings.ToUpper(frontendApp), sa, vaultScope)); r.Status != 200 {
		t.Errorf("upper-case client id: %+v", r)
	}

	// Service Bus asks with a double slash; the audience keeps the resource's slash.
	r := e.post(t, tokenPath, exchangeForm(frontendApp, sa, serviceBusScp))
	if aud := claimsOf(t, r.AccessToken)["aud"]; aud != "https://servicebus.azure.net/" {
		t.Errorf("service bus aud %v", aud)
	}

	// v1 endpoint: resource= and string numbers.
	v1 := exchangeForm(frontendApp, sa, "")
	v1.Del("scope")
	v1.Set("resource", "https://vault.azure.net")
	r = e.post(t, "/"+testTenant+"/oauth2/token", v1)
	if r.Status != 200 || r.Resource != "https://vault.azure.net" {
		t.Fatalf("v1: %+v", r)
	}
	if s, ok := r.ExpiresIn.(string); !ok || s == "" {
		t.Errorf("v1 expires_in %#v, want a string", r.ExpiresIn)
	}
	if _, err := e.srv.Verifier().Verify(r.AccessToken, "https://vault.azure.net"); err != nil {
		t.Error(err)
	}
}

func TestLongAccessTokensCarryRefreshIn(t *testing.T) {
	e := startEntra(t, func(o *Options) { o.AccessTokenTTL = 24 * time.Hour })
	r := e.post(t, "/"+testTenant+"/oauth2/v2.0/token", exchangeForm(frontendApp, e.saToken(t, "orderflow", "frontend", time.Hour), vaultScope))
	if n, _ := r.RefreshIn.(float64); n < 43000 || n > 43200 {
		t.Errorf("refresh_in %v, want half of a day", r.RefreshIn)
	}
}

// Every refusal answers with Entra's code, status and error JSON.
func TestTokenEndpointErrors(t *testing.T) {
	e := startEntra(t, func(o *Options) {
		o.Workloads = append(o.Workloads,
			// Two credentials: issuer shared, subject of one and audience of the other match
			// only separately, which Entra reports as AADSTS70021.
			Workload{Name: "multi", Namespace: "orderflow", ServiceAccount: "multi", ClientID: "aaaaaaaa-0000-4000-8000-000000000003",
				ObjectID: "bbbbbbbb-0000-4000-8000-000000000003", FederatedCredentials: []FederatedCredential{
					{Name: "a", Issuer: o.AuthorityURL + "/oidc", Subject: "system:serviceaccount:orderflow:multi", Audiences: []string{"api://custom"}},
					{Name: "b", Issuer: o.AuthorityURL + "/oidc", Subject: "system:serviceaccount:orderflow:other"},
				}},
			// A credential trusting an issuer that is not reachable from here.
			Workload{Name: "foreign", Namespace: "orderflow", ServiceAccount: "foreign", ClientID: "aaaaaaaa-0000-4000-8000-000000000004",
				ObjectID: "bbbbbbbb-0000-4000-8000-000000000004", FederatedCredentials: []FederatedCredential{
					{Name: "gh", Issuer: "https://token.actions.githubusercontent.com", Subject: "repo:contoso/orderflow:ref:refs/heads/main"},
				}})
	})
	good := e.saToken(t, "orderflow", "frontend", time.Hour)
	v2 := "/" + testTenant + "/oauth2/v2.0/token"

	// Tokens the local issuer would never mint, signed by a stranger's key.
	stranger, _ := rsa.GenerateKey(rand.Reader, 2048)
	forge := func(iss, sub string) string {
		now := time.Now()
		tok, err := authz.SignRS256(stranger, e.srv.saKey.kid, map[string]any{"iss": iss, "sub": sub,
			"aud": []string{TokenExchangeAudience}, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	wrongAudience := func() string {
		now := time.Now()
		tok, _ := authz.SignRS256(e.srv.saKey.priv, e.srv.saKey.kid, map[string]any{"iss": e.srv.IssuerURL(),
			"sub": "system:serviceaccount:orderflow:frontend", "aud": "api://SomethingElse",
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()})
		return tok
	}()
	multiCombo := e.saToken(t, "orderflow", "multi", time.Hour) // subject of "a", audience of "b"
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))

	form := func(edit func(url.Values)) url.Values {
		f := exchangeForm(frontendApp, good, vaultScope)
		edit(f)
		return f
	}
	cases := []struct {
		name   string
		path   string
		form   url.Values
		status int
		code   string
		aadsts int
		text   string
	}{
		{"unknown tenant", "/00000000-dead-4000-8000-000000000000/oauth2/v2.0/token", form(func(url.Values) {}), 400, "invalid_request", 90002, "Tenant '00000000-dead-4000-8000-000000000000' not found"},
		{"common tenant", "/common/oauth2/v2.0/token", form(func(url.Values) {}), 400, "invalid_request", 50059, "No tenant-identifying"},
		{"no grant_type", v2, form(func(f url.Values) { f.Del("grant_type") }), 400, "invalid_request", 900144, "'grant_type'"},
		{"password grant", v2, form(func(f url.Values) { f.Set("grant_type", "password") }), 400, "unsupported_grant_type", 70003, "'password'"},
		{"no client_id", v2, form(func(f url.Values) { f.Del("client_id") }), 400, "invalid_request", 900144, "'client_id'"},
		{"no scope", v2, form(func(f url.Values) { f.Del("scope") }), 400, "invalid_request", 900144, "'scope'"},
		{"only oidc scopes", v2, form(func(f url.Values) { f.Set("scope", "openid profile") }), 400, "invalid_scope", 70011, "The scope openid profile is not valid"},
		{"two resources", v2, form(func(f url.Values) { f.Set("scope", vaultScope+" https://storage.azure.com/.default") }), 400, "invalid_scope", 70011, "is not valid"},
		{"scope without .default", v2, form(func(f url.Values) { f.Set("scope", "https://vault.azure.net/user_impersonation") }), 400, "invalid_scope", 1002012, "/.default"},
		{"v1 without resource", "/" + testTenant + "/oauth2/token", form(func(f url.Values) { f.Del("scope") }), 400, "invalid_request", 900144, "'resource'"},
		{"unknown client", v2, form(func(f url.Values) { f.Set("client_id", "99999999-0000-4000-8000-000000000000") }), 400, "unauthorized_client", 700016, "Application with identifier '99999999-0000-4000-8000-000000000000' was not found in the directory '" + testTenant + "'"},
		{"client secret", v2, form(func(f url.Values) { f.Del("client_assertion"); f.Set("client_secret", "s3cret") }), 401, "invalid_client", 7000215, "Invalid client secret"},
		{"no credential", v2, form(func(f url.Values) { f.Del("client_assertion") }), 401, "invalid_client", 7000218, "'client_assertion' or 'client_secret'"},
		{"no assertion type", v2, form(func(f url.Values) { f.Del("client_assertion_type") }), 400, "invalid_request", 900144, "'client_assertion_type'"},
		{"unknown assertion type", v2, form(func(f url.Values) { f.Set("client_assertion_type", "urn:x") }), 400, "invalid_request", 90014, "'urn:x' is not supported"},
		{"malformed assertion", v2, form(func(f url.Values) { f.Set("client_assertion", "not-a-jwt") }), 400, "invalid_request", 50027, "invalid or malformed"},
		{"wrong issuer", v2, form(func(f url.Values) {
			f.Set("client_assertion", forge("https://evil.example/oidc", "system:serviceaccount:orderflow:frontend"))
		}), 401, "invalid_client", 700211, "assertion issuer 'https://evil.example/oidc'"},
		{"issuer differs in case", v2, form(func(f url.Values) {
			f.Set("client_assertion", forge(strings.ToUpper(e.srv.IssuerURL()[:8])+e.srv.IssuerURL()[8:], "x"))
		}), 401, "invalid_client", 700211, "case-sensitive"},
		{"foreign issuer trusted but unreachable", v2, form(func(f url.Values) {
			f.Set("client_id", "aaaaaaaa-0000-4000-8000-000000000004")
			f.Set("client_assertion", forge("https://token.actions.githubusercontent.com", "repo:contoso/orderflow:ref:refs/heads/main"))
		}), 401, "invalid_client", 50166, "External OIDC endpoint"},
		{"forged signature", v2, form(func(f url.Values) {
			f.Set("client_assertion", forge(e.srv.IssuerURL(), "system:serviceaccount:orderflow:frontend"))
		}), 401, "invalid_client", 700027, "signature validation"},
		{"tampered signature", v2, form(func(f url.Values) { f.Set("client_assertion", tampered) }), 401, "invalid_client", 700027, "signature validation"},
		{"expired assertion", v2, form(func(f url.Values) { f.Set("client_assertion", e.saToken(t, "orderflow", "frontend", -10*time.Minute)) }), 401, "invalid_client", 700024, "Client assertion is not within its valid time range. Current time: "},
		{"wrong subject", v2, form(func(f url.Values) { f.Set("client_assertion", e.saToken(t, "default", "frontend", time.Hour)) }), 401, "invalid_client", 700213, "assertion subject 'system:serviceaccount:default:frontend'"},
		{"wrong audience", v2, form(func(f url.Values) { f.Set("client_assertion", wrongAudience) }), 401, "invalid_client", 700212, "assertion audience 'api://SomethingElse'"},
		{"no single record matches", v2, form(func(f url.Values) {
			f.Set("client_id", "aaaaaaaa-0000-4000-8000-000000000003")
			f.Set("client_assertion", multiCombo)
		}), 400, "invalid_request", 70021, "No matching federated identity record found for presented assertion. Assertion Issuer: '" + e.srv.IssuerURL() + "'. Assertion Subject: 'system:serviceaccount:orderflow:multi'. Assertion Audience: 'api://AzureADTokenExchange'."},
		{"resource not in the tenant", v2, form(func(f url.Values) { f.Set("scope", "https://management.azure.com//.default openid") }), 400, "invalid_resource", 500011,
			"The resource principal named https://management.azure.com/ was not found in the tenant named " + testTenant + "."},
		{"v1 resource not in the tenant", "/" + testTenant + "/oauth2/token", form(func(f url.Values) { f.Del("scope"); f.Set("resource", "https://graph.microsoft.com") }), 400, "invalid_resource", 500011,
			"The resource principal named https://graph.microsoft.com was not found"},
		{"extra resource is not a prefix match", v2, form(func(f url.Values) { f.Set("scope", "https://vault.azure.net.evil.example/.default") }), 400, "invalid_resource", 500011, "vault.azure.net.evil.example"},
		{"unknown resource, bad assertion: the assertion fails first", v2, form(func(f url.Values) {
			f.Set("scope", "https://management.azure.com/.default")
			f.Set("client_assertion", tampered)
		}), 401, "invalid_client", 700027, "signature validation"},
		{"another workload's token", v2, form(func(f url.Values) { f.Set("client_id", backendApp) }), 401, "invalid_client", 700213, "system:serviceaccount:orderflow:frontend"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.post(t, c.path, c.form)
			if r.Status != c.status || r.Error != c.code || len(r.ErrorCodes) != 1 || r.ErrorCodes[0] != c.aadsts {
				t.Fatalf("got %d %s %v, want %d %s %d: %s", r.Status, r.Error, r.ErrorCodes, c.status, c.code, c.aadsts, r.ErrorDescription)
			}
			prefix := "AADSTS" + strconv.Itoa(c.aadsts) + ": "
			if !strings.HasPrefix(r.ErrorDescription, prefix) || !strings.Contains(r.ErrorDescription, c.text) {
				t.Errorf("description %q lacks %q", r.ErrorDescription, c.text)
			}
			if !strings.Contains(r.ErrorDescription, "Trace ID: "+r.TraceID+" Correlation ID: "+r.CorrelationID+" Timestamp: "+r.Timestamp) {
				t.Errorf("description does not end with the trace ids: %q", r.ErrorDescription)
			}
			if _, err := time.Parse("2006-01-02 15:04:05Z", r.Timestamp); err != nil {
				t.Errorf("timestamp %q: %v", r.Timestamp, err)
			}
			if r.AccessToken != "" || r.ErrorURI != e.url+"/error?code="+strconv.Itoa(c.aadsts) {
				t.Errorf("access token %q, error_uri %q", r.AccessToken, r.ErrorURI)
			}
		})
	}
}

func TestCorrelationIDEchoesClientRequestID(t *testing.T) {
	e := startEntra(t, nil)
	req, _ := http.NewRequest("POST", e.url+"/"+testTenant+"/oauth2/v2.0/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("client-request-id", "0d0e0f00-1111-4222-8333-444444444444")
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("client-request-id"); got != "0d0e0f00-1111-4222-8333-444444444444" {
		t.Errorf("client-request-id %q", got)
	}
}
