package interop_test

import (
	"strings"
	"testing"
)

type tokenInfo struct {
	Aud, Appid, Oid, Tid string
	ExpiresInS           int
	Error                string
}

// TestIdentity: @azure/identity's WorkloadIdentityCredential (MSAL Node) exchanges the
// projected service-account token at the local Entra for a token per data plane.
func TestIdentity(t *testing.T) {
	requireNode(t)
	var got map[string]tokenInfo
	runNode(t, "identity.mjs", "frontend", nil, &got)
	env := st.Env("frontend")
	want := map[string]string{
		"keyvault":   "https://vault.azure.net",
		"storage":    "https://storage.azure.com",
		"servicebus": "https://servicebus.azure.net",
		"cosmos":     "https://cosmos.azure.com",
	}
	for name, aud := range want {
		tok, ok := got[name]
		switch {
		case !ok || tok.Error != "":
			t.Errorf("%s: no token: %+v", name, tok)
		case strings.TrimSuffix(tok.Aud, "/") != aud:
			t.Errorf("%s: aud = %q, want %q", name, tok.Aud, aud)
		case tok.Appid != env["AZURE_CLIENT_ID"] || tok.Tid != env["AZURE_TENANT_ID"] || tok.Oid == "":
			t.Errorf("%s: appid/tid/oid = %q/%q/%q, want the frontend's client id and tenant", name, tok.Appid, tok.Tid, tok.Oid)
		case tok.ExpiresInS < 600:
			t.Errorf("%s: token expires in %d s", name, tok.ExpiresInS)
		}
	}
}
