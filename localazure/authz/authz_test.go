package authz_test

import (
	"errors"
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
