package integration

import (
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/keyvault"
	"github.com/contoso/orderflow/platform/orders"
)

func TestKeyVaultSigningKey(t *testing.T) {
	ctx := testCtx(t)
	for _, workload := range []string{"backend", "frontend"} {
		c, cfg := clientsFor(t, workload)
		s := keyvault.New(c.Secrets, cfg.KeyVault.SecretName, time.Minute, nil)
		key, version, err := s.SigningKey(ctx)
		if err != nil {
			t.Fatalf("%s SigningKey: %v", workload, err)
		}
		if len(key) < keyvault.MinKeyBytes || version == "" {
			t.Fatalf("%s: key of %d bytes, version %q", workload, len(key), version)
		}
		// The frontend verifies with the version a receipt names.
		again, err := s.KeyVersion(ctx, version)
		if err != nil || string(again) != string(key) {
			t.Errorf("%s KeyVersion(%s): %v", workload, version, err)
		}
		fresh := keyvault.New(c.Secrets, cfg.KeyVault.SecretName, time.Minute, nil)
		if k, err := fresh.KeyVersion(ctx, version); err != nil || string(k) != string(key) {
			t.Errorf("%s KeyVersion from the vault: %v", workload, err)
		}
		if _, err := fresh.KeyVersion(ctx, "0123456789abcdef0123456789abcdef"); orders.ErrorCode(err) != orders.ENOTFOUND {
			t.Errorf("%s unknown version: %v", workload, err)
		}
	}
}
