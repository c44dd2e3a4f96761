package integration

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/contoso/orderflow/localazure/stack"
	"github.com/contoso/orderflow/platform/keyvault"
	"github.com/contoso/orderflow/platform/orders"
)

// TestKeyVaultRotationPickedUp rotates the signing key while a SecretSource is in use
// and checks that it switches to the new version after its refresh interval, without
// a restart, and still verifies with the old one. The rotation is done by an extra
// "operator" workload holding Key Vault Secrets Officer, in a second stack (without
// Blob) started from a copy of localazure.json: the services' own identities may
// only read secrets.
func TestKeyVaultRotationPickedUp(t *testing.T) {
	st := local.Require(t)
	ctx := testCtx(t)
	raw, err := os.ReadFile(st.Config().Path)
	if err != nil {
		t.Skipf("cannot read the stack's configuration: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	la := doc["LocalAzure"].(map[string]any)
	la["workloads"] = append(la["workloads"].([]any), map[string]any{
		"name": "operator", "namespace": "orderflow", "serviceAccount": "operator",
		"clientId": "6f1c2d3e-4b5a-4c6d-8e7f-901234567890", "objectId": "7a2b3c4d-5e6f-4a7b-8c9d-0e1f23456789",
	})
	la["roleAssignments"] = append(la["roleAssignments"].([]any), map[string]any{
		"principal": "operator", "role": "Key Vault Secrets Officer", "scope": "keyvault",
	})
	b, _ := json.MarshalIndent(doc, "", "  ")
	path := filepath.Join(t.TempDir(), "localazure.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := stack.Start(ctx, stack.Options{ConfigPath: path})
	if err != nil {
		t.Fatalf("second stack: %v", err)
	}
	defer s2.Close()
	// The second stack has no Blob; any endpoint satisfies the configuration.
	withBlob := func(env map[string]string) map[string]string {
		env["STORAGE_BLOB_ENDPOINT"] = st.Endpoints().Blob
		return env
	}
	backend := clientsFromEnv(t, withBlob(s2.Env("backend")))
	operator := clientsFromEnv(t, withBlob(s2.Env("operator")))

	src := keyvault.New(backend.Secrets, "receipt-signing-key", 300*time.Millisecond, nil)
	key1, v1, err := src.SigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	newKey := []byte("rotated-key-material-0123456789ab")
	value, ct := base64.StdEncoding.EncodeToString(newKey), "application/octet-stream; base64"
	resp, err := operator.Secrets.SetSecret(ctx, "receipt-signing-key", azsecrets.SetSecretParameters{Value: &value, ContentType: &ct}, nil)
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	v2 := resp.ID.Version()
	if _, v, _ := src.SigningKey(ctx); v != v1 {
		t.Errorf("switched before the refresh interval: %s", v)
	}
	time.Sleep(400 * time.Millisecond)
	key2, v, err := src.SigningKey(ctx)
	if err != nil || v != v2 || string(key2) != string(newKey) {
		t.Fatalf("after refresh: version %s (want %s), key %q, %v", v, v2, key2, err)
	}
	// Receipts signed before the rotation still verify.
	r := &orders.Receipt{OrderID: "o", IssuedAt: time.Now()}
	_ = r.Sign(key1, v1)
	old, err := src.KeyVersion(ctx, r.KeyVersion)
	if err != nil || r.Verify(old) != nil {
		t.Errorf("old receipt: %v", err)
	}
}
