package interop_test

import (
	"slices"
	"testing"
)

// TestKeyVault: @azure/keyvault-secrets as the frontend (Key Vault Secrets User) reads
// and lists secrets and is refused a write.
func TestKeyVault(t *testing.T) {
	requireNode(t)
	var got struct {
		Get struct {
			Name, ContentType, Version, Error string
			ValueBytes                        int
			Enabled                           bool
		}
		Set  any
		List any
	}
	runNode(t, "keyvault.mjs", "frontend", nil, &got)
	secret := st.Env("frontend")["RECEIPT_KEY_SECRET"]
	if g := got.Get; g.Error != "" || g.Name != secret || g.ValueBytes != 32 || g.Version == "" || !g.Enabled || g.ContentType != "application/octet-stream; base64" {
		t.Errorf("getSecret: %+v", g)
	}
	if set, ok := got.Set.(map[string]any); !ok || set["statusCode"] != float64(403) || set["code"] != "Forbidden" {
		t.Errorf("setSecret as Secrets User: %v, want 403 Forbidden", got.Set)
	}
	names, _ := got.List.([]any)
	if !slices.Contains(names, any(secret)) {
		t.Errorf("listPropertiesOfSecrets: %v, want it to hold %q", got.List, secret)
	}
}
