package entraemu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/contoso/orderflow/localazure/authz"
)

// The full workload identity flow with the real client: token file -> assertion ->
// access token, verified with the Verifier the other stand-ins use.
func TestWorkloadIdentityCredential(t *testing.T) {
	dir := t.TempDir()
	e := startEntra(t, func(o *Options) { o.TokenDir = dir })
	if err := e.srv.WriteTokenFiles(); err != nil {
		t.Fatal(err)
	}
	for _, wl := range testWorkloads() {
		cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: e.clientOptions(), ClientID: wl.ClientID, TenantID: testTenant,
			TokenFilePath: e.srv.TokenFile(wl.Name), DisableInstanceDiscovery: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{vaultScope}})
		if err != nil {
			t.Fatalf("%s: %v", wl.Name, err)
		}
		if d := time.Until(tok.ExpiresOn); d < 55*time.Minute || d > 61*time.Minute {
			t.Errorf("%s: token expires in %s, want about an hour", wl.Name, d)
		}
		p, err := e.srv.Verifier().Verify(tok.Token, "https://vault.azure.net")
		if err != nil {
			t.Fatalf("%s: verify: %v", wl.Name, err)
		}
		if p.ObjectID != wl.ObjectID || p.ClientID != wl.ClientID || p.TenantID != testTenant {
			t.Errorf("%s: principal %+v", wl.Name, p)
		}
		c := claimsOf(t, tok.Token)
		want := map[string]any{"iss": "https://sts.windows.net/" + testTenant + "/", "aud": "https://vault.azure.net",
			"sub": wl.ObjectID, "oid": wl.ObjectID, "appid": wl.ClientID, "tid": testTenant, "idtyp": "app", "ver": "1.0", "appidacr": "2"}
		for k, v := range want {
			if c[k] != v {
				t.Errorf("%s: claim %s = %v, want %v", wl.Name, k, c[k], v)
			}
		}
		if _, err := e.srv.Verifier().Verify(tok.Token, "https://storage.azure.com"); !errors.Is(err, authz.ErrAudience) {
			t.Errorf("%s: a vault token verified for storage: %v", wl.Name, err)
		}
	}
}

// DefaultAzureCredential configured only by what the AKS webhook injects.
func TestDefaultAzureCredentialFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	e := startEntra(t, func(o *Options) { o.TokenDir = dir })
	if err := e.srv.WriteTokenFiles(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME", "AZURE_TOKEN_CREDENTIALS", "AZURE_REGIONAL_AUTHORITY_NAME"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AZURE_CLIENT_ID", backendApp)
	t.Setenv("AZURE_TENANT_ID", testTenant)
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", e.srv.TokenFile("backend"))
	t.Setenv("AZURE_AUTHORITY_HOST", e.url)
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
		ClientOptions: policyTransportOnly(e), DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, scope := range []string{vaultScope, serviceBusScp, "https://storage.azure.com/.default"} {
		tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{scope}})
		if err != nil {
			t.Fatalf("%s: %v", scope, err)
		}
		aud := strings.TrimSuffix(scope, "/.default") // the Service Bus one keeps its trailing slash
		if got := claimsOf(t, tok.Token)["aud"]; got != aud {
			t.Errorf("scope %s: aud %v, want %s", scope, got, aud)
		}
		if p, err := e.srv.Verifier().Verify(tok.Token, aud); err != nil || p.ObjectID != backendOID {
			t.Errorf("scope %s: %+v %v", scope, p, err)
		}
	}
}

// policyTransportOnly leaves the authority host to AZURE_AUTHORITY_HOST.
func policyTransportOnly(e *testEnv) (o policy.ClientOptions) {
	o.Transport = e.client
	return o
}

// Error paths reach the caller through the real client as AuthenticationFailedError
// carrying Entra's code.
func TestCredentialErrorsThroughSDK(t *testing.T) {
	e := startEntra(t, nil)
	good := e.saToken(t, "orderflow", "frontend", time.Hour)
	cases := []struct {
		name, tenant, client, assertion, want string
	}{
		{"wrong subject", testTenant, frontendApp, e.saToken(t, "orderflow", "backend", time.Hour), "AADSTS700213"},
		{"expired", testTenant, frontendApp, e.saToken(t, "orderflow", "frontend", -10*time.Minute), "AADSTS700024"},
		{"unknown client", testTenant, "99999999-0000-4000-8000-000000000000", good, "AADSTS700016"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.assertionCredential(t, c.tenant, c.client, c.assertion).GetToken(context.Background(),
				policy.TokenRequestOptions{Scopes: []string{vaultScope}})
			var afe *azidentity.AuthenticationFailedError
			if !errors.As(err, &afe) {
				t.Fatalf("want AuthenticationFailedError, got %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error does not name %s: %v", c.want, err)
			}
		})
	}
	// A resource no stand-in serves: refused as Entra refuses a resource without a
	// service principal in the tenant, and azidentity surfaces the code.
	_, err := e.assertionCredential(t, testTenant, frontendApp, good).GetToken(context.Background(),
		policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com//.default"}})
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) || !strings.Contains(err.Error(), "AADSTS500011") || !strings.Contains(err.Error(), "invalid_resource") {
		t.Errorf("unknown resource: %v", err)
	}
	// An unknown tenant fails already at tenant discovery.
	_, err = e.assertionCredential(t, "00000000-dead-4000-8000-000000000000", frontendApp, good).GetToken(context.Background(),
		policy.TokenRequestOptions{Scopes: []string{vaultScope}})
	if err == nil || !strings.Contains(err.Error(), "AADSTS90002") {
		t.Errorf("unknown tenant: %v", err)
	}
}

// Many clients at once: each credential caches its token, so every goroutine uses
// its own credentials to make the server do the work.
func TestConcurrentExchanges(t *testing.T) {
	dir := t.TempDir()
	e := startEntra(t, func(o *Options) { o.TokenDir = dir })
	if err := e.srv.WriteTokenFiles(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wl := testWorkloads()[i%2]
			for range 4 {
				cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
					ClientOptions: e.clientOptions(), ClientID: wl.ClientID, TenantID: testTenant,
					TokenFilePath: filepath.Join(dir, wl.Name, "azure-identity-token"), DisableInstanceDiscovery: true,
				})
				if err != nil {
					errs <- err
					return
				}
				tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{vaultScope}})
				if err != nil {
					errs <- err
					return
				}
				if p, err := e.srv.Verifier().Verify(tok.Token, "https://vault.azure.net"); err != nil || p.ObjectID != wl.ObjectID {
					errs <- errors.Join(err, errors.New("wrong principal "+p.ObjectID))
					return
				}
			}
		}()
	}
	// Rewrite the token files while the exchanges run.
	for range 5 {
		if err := e.srv.WriteTokenFiles(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
