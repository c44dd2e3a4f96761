package doctor

import (
	"errors"
	"strings"
	"testing"

	"github.com/contoso/orderflow/platform/config"
)

// Each AADSTS family maps to its cause and fix; the live stack covers 700213 and an
// unreachable authority, these the codes it cannot be made to answer.
func TestExplainEntraCodes(t *testing.T) {
	cfg := config.Config{Identity: config.Identity{ClientID: "cid", TenantID: "tid", FederatedTokenFile: "/t"}}
	tok := tokenInfo{claims: claims{Iss: "https://oidc.example/x/", Sub: "system:serviceaccount:orderflow:frontend"}}
	cases := []struct{ code, detail, fix string }{
		{"70021", "no federated credential matches", "az identity federated-credential list"},
		{"700211", "no federated credential matches", IdentityBicep},
		{"7002138", "no federated credential matches", "issuer https://oidc.example/x/"},
		{"700024", "expired or not yet valid", "clock"},
		{"700027", "signature does not verify", "oidcIssuerProfile"},
		{"90061", "cannot fetch the issuer", "infra/modules/aks.bicep"},
		{"50166", "cannot fetch the issuer", "publicly reachable"},
		{"700016", "does not know this client", "azure.workload.identity/client-id"},
		{"7000215", "does not know this client", "az identity show"},
		{"500011", "is not in the tenant", "KEYVAULT_URL"},
		{"90002", "tenant is unknown", "AZURE_TENANT_ID"},
		{"123456", "AADSTS123456", "https://login.microsoftonline.com/error?code=123456"},
	}
	for _, c := range cases {
		err := errors.New("WorkloadIdentityCredential authentication failed\nAADSTS" + c.code + ": Something about https://x.example/y. Trace ID: 1\n")
		detail, fix := explainEntra(err, "https://vault.azure.net/.default", cfg, tok, "frontend")
		if !strings.Contains(detail, c.detail) || !strings.Contains(detail, "Something about https://x.example/y.") {
			t.Errorf("AADSTS%s: detail %q lacks %q", c.code, detail, c.detail)
		}
		if !strings.Contains(fix, c.fix) {
			t.Errorf("AADSTS%s: fix %q lacks %q", c.code, fix, c.fix)
		}
	}
}

func TestDecodeClaims(t *testing.T) {
	// {"iss":"i","sub":"s","aud":"a","exp":1}
	c, err := decodeClaims("e30.eyJpc3MiOiJpIiwic3ViIjoicyIsImF1ZCI6ImEiLCJleHAiOjF9.c2ln\n")
	if err != nil || c.Iss != "i" || c.Sub != "s" || len(c.Aud) != 1 || c.Aud[0] != "a" || c.Exp != 1 {
		t.Errorf("claims = %+v, %v", c, err)
	}
	if _, err := decodeClaims("not a token"); err == nil {
		t.Error("a non-JWT decoded")
	}
}
