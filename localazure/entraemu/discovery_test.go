package entraemu

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/authz"
)

func TestTenantDiscoveryDocuments(t *testing.T) {
	e := startEntra(t, nil)
	status, v2 := e.getJSON(t, "/"+testTenant+"/v2.0/.well-known/openid-configuration")
	if status != 200 {
		t.Fatal(status)
	}
	want := map[string]string{
		"issuer":                 e.url + "/" + testTenant + "/v2.0",
		"token_endpoint":         e.url + "/" + testTenant + "/oauth2/v2.0/token",
		"authorization_endpoint": e.url + "/" + testTenant + "/oauth2/v2.0/authorize",
		"jwks_uri":               e.url + "/" + testTenant + "/discovery/v2.0/keys",
		"tenant_region_scope":    "NA",
		"cloud_instance_name":    "microsoftonline.com",
	}
	for k, v := range want {
		if v2[k] != v {
			t.Errorf("v2 %s = %v, want %s", k, v2[k], v)
		}
	}
	for _, k := range []string{"response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported",
		"token_endpoint_auth_methods_supported", "scopes_supported", "claims_supported", "response_modes_supported"} {
		if l, ok := v2[k].([]any); !ok || len(l) == 0 {
			t.Errorf("v2 %s missing", k)
		}
	}
	_, v1 := e.getJSON(t, "/"+testTenant+"/.well-known/openid-configuration")
	if v1["issuer"] != "https://sts.windows.net/"+testTenant+"/" || v1["token_endpoint"] != e.url+"/"+testTenant+"/oauth2/token" ||
		v1["jwks_uri"] != e.url+"/common/discovery/keys" {
		t.Errorf("v1 document %v", v1)
	}
	_, common := e.getJSON(t, "/common/v2.0/.well-known/openid-configuration")
	if common["issuer"] != e.url+"/{tenantid}/v2.0" || common["token_endpoint"] != e.url+"/common/oauth2/v2.0/token" {
		t.Errorf("common document %v", common)
	}
	for _, p := range []string{"/not-a-tenant/v2.0/.well-known/openid-configuration", "/not-a-tenant/.well-known/openid-configuration", "/not-a-tenant/discovery/v2.0/keys"} {
		status, bad := e.getJSON(t, p)
		if status != 400 || bad["error"] != "invalid_tenant" || !strings.HasPrefix(bad["error_description"].(string), "AADSTS90002: Tenant 'not-a-tenant' not found.") {
			t.Errorf("%s: %d %v", p, status, bad)
		}
	}
	if status, m := e.getJSON(t, "/"+testTenant+"/oauth2/v2.0/token"); status != 400 || m["error_codes"].([]any)[0] != float64(900561) {
		t.Errorf("GET token endpoint: %d %v", status, m)
	}
	if e.srv.AuthorityURL() != e.url || e.srv.TenantID() != testTenant || len(e.srv.Workloads()) != 2 || e.srv.Workloads()[0].FederatedCredentials[0].Issuer != e.srv.IssuerURL() {
		t.Error("accessors")
	}
}

func TestInstanceDiscovery(t *testing.T) {
	e := startEntra(t, nil)
	_, m := e.getJSON(t, "/common/discovery/instance?api-version=1.1&authorization_endpoint="+e.url+"/"+testTenant+"/oauth2/v2.0/authorize")
	if m["tenant_discovery_endpoint"] != e.url+"/"+testTenant+"/v2.0/.well-known/openid-configuration" {
		t.Errorf("instance discovery %v", m)
	}
	md := m["metadata"].([]any)[0].(map[string]any)
	host := e.url[len("https://"):]
	if md["preferred_network"] != host || md["aliases"].([]any)[0] != host {
		t.Errorf("metadata %v", md)
	}
}

// The published keys verify what was signed, so a client that validates tokens
// itself (or an OIDC relying party) can.
func TestJWKSVerifyIssuedTokens(t *testing.T) {
	e := startEntra(t, nil)
	sa := e.saToken(t, "orderflow", "frontend", time.Hour)
	r := e.post(t, "/"+testTenant+"/oauth2/v2.0/token", exchangeForm(frontendApp, sa, vaultScope))

	_, doc := e.getJSON(t, "/oidc/.well-known/openid-configuration")
	if doc["issuer"] != e.srv.IssuerURL() || doc["jwks_uri"] != e.srv.IssuerURL()+"/openid/v1/jwks" {
		t.Fatalf("issuer discovery %v", doc)
	}
	verifyWith(t, e, "/oidc/openid/v1/jwks", sa, false)
	for _, p := range []string{"/common/discovery/keys", "/" + testTenant + "/discovery/v2.0/keys", "/" + testTenant + "/discovery/keys"} {
		verifyWith(t, e, p, r.AccessToken, true)
	}
	// The two issuers sign with different keys.
	var c map[string]any
	if _, err := authz.ParseRS256(r.AccessToken, func(string) *rsa.PublicKey { return &e.srv.saKey.priv.PublicKey }, &c); err == nil {
		t.Error("access token verified with the service-account key")
	}
}

func verifyWith(t *testing.T, e *testEnv, path, token string, wantCert bool) {
	t.Helper()
	res, err := e.client.Get(e.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d", path, res.StatusCode)
	}
	var set struct {
		Keys []struct {
			Kty, Use, Kid, N, E, X5t string
			X5c                      []string
		}
	}
	if err := decodeJSON(res, &set); err != nil {
		t.Fatal(err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		n, _ := base64.RawURLEncoding.DecodeString(k.N)
		eb, _ := base64.RawURLEncoding.DecodeString(k.E)
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(eb).Int64())}
		if wantCert {
			der, err := base64.StdEncoding.DecodeString(k.X5c[0])
			if err != nil {
				t.Fatal(err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil || !cert.PublicKey.(*rsa.PublicKey).Equal(keys[k.Kid]) || k.X5t != k.Kid {
				t.Errorf("%s: x5c does not hold the key: %v", path, err)
			}
		}
	}
	var c map[string]any
	if _, err := authz.ParseRS256(token, func(kid string) *rsa.PublicKey { return keys[kid] }, &c); err != nil {
		t.Errorf("%s: %v", path, err)
	}
}
