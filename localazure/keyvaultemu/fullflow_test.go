package keyvaultemu

import (
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/contoso/orderflow/localazure/authz"
	"github.com/contoso/orderflow/localazure/entraemu"
)

const (
	flowTenant  = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	frontendApp = "aaaaaaaa-0000-4000-8000-00000000000f"
	frontendOID = "bbbbbbbb-0000-4000-8000-00000000000f"
	backendApp  = "aaaaaaaa-0000-4000-8000-00000000000b"
	backendOID  = "bbbbbbbb-0000-4000-8000-00000000000b"
)

// flowEnv is the local Entra and a vault that trusts it, as the launcher wires them.
type flowEnv struct {
	entra *entraemu.Server
	authz string // authority URL
	kv    *kvEnv
}

func startFlow(t testing.TB) *flowEnv {
	t.Helper()
	f := &flowEnv{}
	var es *entraemu.Server
	f.authz = serveTLS(t, func() http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { es.Handler().ServeHTTP(w, r) })
	})
	var err error
	es, err = entraemu.New(entraemu.Options{
		TenantID: flowTenant, AuthorityURL: f.authz, TokenDir: t.TempDir(),
		Workloads: []entraemu.Workload{
			{Name: "frontend", Namespace: "orderflow", ServiceAccount: "frontend", ClientID: frontendApp, ObjectID: frontendOID},
			{Name: "backend", Namespace: "orderflow", ServiceAccount: "backend", ClientID: backendApp, ObjectID: backendOID},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := es.WriteTokenFiles(); err != nil {
		t.Fatal(err)
	}
	f.entra = es
	f.kv = &kvEnv{client: newHTTPClient(t)}
	f.kv.restart(t, []Secret{{Name: "receipt-signing-key", Value: "k3y"}}, func(o *Options) {
		o.TenantID, o.Verifier = flowTenant, es.Verifier()
		o.Policy = authz.NewPolicy([]authz.Assignment{
			{PrincipalID: frontendOID, Role: authz.KeyVaultSecretsUser, Scope: "keyvault/secrets/receipt-signing-key"},
			{PrincipalID: backendOID, Role: authz.KeyVaultSecretsOfficer, Scope: "keyvault"},
		})
	})
	return f
}

func (f *flowEnv) credential(t testing.TB, workload, clientID string) *azidentity.WorkloadIdentityCredential {
	t.Helper()
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: azcore.ClientOptions{Transport: f.kv.client, Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: f.authz}},
		ClientID:      clientID, TenantID: flowTenant, TokenFilePath: f.entra.TokenFile(workload), DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// The whole chain: token file -> local Entra -> challenge -> bearer token -> RBAC.
func TestFullFlowWithLocalEntra(t *testing.T) {
	f := startFlow(t)
	front := f.kv.secretsWith(t, f.credential(t, "frontend", frontendApp))
	back := f.kv.secretsWith(t, f.credential(t, "backend", backendApp))

	s, err := front.GetSecret(ctx, "receipt-signing-key", "", nil)
	if err != nil || *s.Value != "k3y" {
		t.Fatalf("frontend read: %v", err)
	}
	_, err = front.SetSecret(ctx, "receipt-signing-key", azsecrets.SetSecretParameters{Value: ptr("x")}, nil)
	re := wantResponseError(t, err, 403, "Forbidden")
	if !strings.Contains(re.Error(), "oid="+frontendOID) || !strings.Contains(re.Error(), "appid="+frontendApp) {
		t.Errorf("403 does not name the caller: %v", re)
	}
	// The first call of a fresh client is a PUT whose body the challenge policy strips
	// and restores: the value must arrive.
	if _, err := back.SetSecret(ctx, "receipt-signing-key", azsecrets.SetSecretParameters{Value: ptr("rotated")}, nil); err != nil {
		t.Fatal(err)
	}
	if s, err := front.GetSecret(ctx, "receipt-signing-key", "", nil); err != nil || *s.Value != "rotated" {
		t.Fatalf("after rotation: %v", err)
	}
}
