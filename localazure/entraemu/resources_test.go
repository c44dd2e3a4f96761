package entraemu

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Options.Resources adds endpoint audiences (Cosmos DB clients ask for the account
// endpoint); the matching ignores case and a trailing slash, as Entra's does.
func TestResourcesServedAndExtra(t *testing.T) {
	const cosmosEndpoint = "https://127.0.0.1:8081"
	e := startEntra(t, func(o *Options) { o.Resources = []string{cosmosEndpoint} })
	good := e.saToken(t, "orderflow", "frontend", time.Hour)
	for _, scope := range []string{
		"https://vault.azure.net/.default", "https://storage.azure.com/.default", "https://servicebus.azure.net//.default",
		"https://cosmos.azure.com/.default", "HTTPS://Vault.Azure.Net/.default", cosmosEndpoint + "/.default", cosmosEndpoint + "//.default",
	} {
		tok, err := e.assertionCredential(t, testTenant, frontendApp, good).GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{scope}})
		if err != nil {
			t.Errorf("%s refused: %v", scope, err)
			continue
		}
		if aud := claimsOf(t, tok.Token)["aud"]; aud != strings.TrimSuffix(scope, "/.default") {
			t.Errorf("%s: aud %v", scope, aud)
		}
	}
	for _, scope := range []string{"https://127.0.0.1:9999/.default", "https://management.azure.com/.default", "api://AzureADTokenExchange/.default"} {
		_, err := e.assertionCredential(t, testTenant, frontendApp, good).GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{scope}})
		if err == nil || !strings.Contains(err.Error(), "AADSTS500011") {
			t.Errorf("%s: want AADSTS500011, got %v", scope, err)
		}
	}
}
