package authz_test

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/authz"
	"github.com/contoso/orderflow/localazure/authz/authztest"
)

func TestVerify(t *testing.T) {
	iss := authztest.NewIssuer()
	other := authztest.NewIssuer()
	good := iss.Token("oid-1", "https://vault.azure.net", time.Hour)

	p, err := iss.Verify(good, "https://vault.azure.net/")
	if err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
	if p.ObjectID != "oid-1" || p.TenantID != authztest.TenantID || p.ClientID != "app-oid-1" {
		t.Fatalf("principal = %+v", p)
	}
	// Cached path gives the same answer, and still checks the audience.
	if _, err := iss.Verify(good, "https://storage.azure.com"); !errors.Is(err, authz.ErrAudience) {
		t.Fatalf("wrong audience: err = %v", err)
	}
	if _, err := iss.Verify(iss.Token("oid-1", "https://vault.azure.net", -time.Hour), "https://vault.azure.net"); !errors.Is(err, authz.ErrExpired) {
		t.Fatalf("expired: err = %v", err)
	}
	if _, err := iss.Verify(other.Token("oid-1", "https://vault.azure.net", time.Hour), "https://vault.azure.net"); !errors.Is(err, authz.ErrSignature) {
		t.Fatalf("foreign key: err = %v", err)
	}
	// Same kid, other key: a bad signature, not an unknown key.
	if _, err := iss.Verify(other.Token("oid-1", "https://vault.azure.net", time.Hour), "https://vault.azure.net"); errors.Is(err, authz.ErrUnknownKey) {
		t.Fatalf("foreign key under a known kid reported as unknown kid: %v", err)
	}
	if _, err := iss.Verify("not.a.jwt", "x"); !errors.Is(err, authz.ErrMalformed) {
		t.Fatalf("garbage: err = %v", err)
	}
	tampered := good[:len(good)-4] + "AAAA"
	if tampered != good {
		if _, err := iss.Verify(tampered, "https://vault.azure.net"); err == nil {
			t.Fatal("tampered signature accepted")
		}
	}
}

// TestUnknownSigningKey: a token whose kid the verifier does not hold (a token from
// before a restart of the local Entra) is ErrUnknownKey, names the kid, and is still an
// ErrSignature for the stand-ins that only tell good from bad signatures.
func TestUnknownSigningKey(t *testing.T) {
	old, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	current, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	iss := "https://sts.windows.net/" + authztest.TenantID + "/"
	v := authz.NewTokenVerifier(iss, map[string]*rsa.PublicKey{"run-2": &current.PublicKey})
	now := time.Now()
	tok, err := authz.SignRS256(old, "run-1", authz.AccessClaims{Issuer: iss, Audience: "https://servicebus.azure.net", ObjectID: "oid-1",
		TenantID: authztest.TenantID, IssuedAt: now.Unix(), NotBefore: now.Unix(), Expires: now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(tok, "https://servicebus.azure.net")
	if !errors.Is(err, authz.ErrUnknownKey) || !errors.Is(err, authz.ErrSignature) {
		t.Fatalf("err = %v, want ErrUnknownKey and ErrSignature", err)
	}
	if !strings.Contains(err.Error(), `"run-1"`) {
		t.Errorf("error %q does not name the kid", err)
	}
}

func TestPolicy(t *testing.T) {
	p := authz.NewPolicy([]authz.Assignment{
		{PrincipalID: "fe", Role: authz.ServiceBusDataSender, Scope: "servicebus/orders"},
		{PrincipalID: "fe", Role: authz.ServiceBusDataReceiver, Scope: "/servicebus/order-events/subscriptions/frontend/"},
		{PrincipalID: "be", Role: authz.KeyVaultSecretsUser, Scope: "keyvault"},
	})
	cases := []struct {
		who, scope string
		roles      []string
		want       bool
	}{
		{"fe", "servicebus/orders", []string{authz.ServiceBusDataSender, authz.ServiceBusDataOwner}, true},
		{"fe", "servicebus/orders-archive", []string{authz.ServiceBusDataSender}, false},
		{"fe", "servicebus/orders", []string{authz.ServiceBusDataReceiver}, false},
		{"fe", "servicebus/order-events/subscriptions/frontend", []string{authz.ServiceBusDataReceiver}, true},
		{"fe", "servicebus/order-events/subscriptions/other", []string{authz.ServiceBusDataReceiver}, false},
		{"be", "keyvault/secrets/receipt-signing-key", []string{authz.KeyVaultSecretsUser}, true},
		{"be", "keyvault/secrets/x", []string{"key vault secrets user"}, true},
		{"nobody", "keyvault", []string{authz.KeyVaultSecretsUser}, false},
	}
	for _, c := range cases {
		if got := p.Allowed(c.who, c.scope, c.roles...); got != c.want {
			t.Errorf("Allowed(%s, %s, %v) = %v, want %v", c.who, c.scope, c.roles, got, c.want)
		}
	}
}
