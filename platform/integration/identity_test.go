package integration

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/contoso/orderflow/platform/azure"
	"github.com/contoso/orderflow/platform/config"
)

// TestRefusedFederationIsExplained presents the backend's service-account token under
// the frontend's client ID: the local Entra finds no federated credential for that
// subject, and start-up must say so (with Entra's code and the fix), not claim that no
// identity is configured.
func TestRefusedFederationIsExplained(t *testing.T) {
	st := local.Require(t)
	env := st.Env("frontend")
	env["AZURE_FEDERATED_TOKEN_FILE"] = st.Env("backend")["AZURE_FEDERATED_TOKEN_FILE"]
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	c, err := azure.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	err = c.CheckIdentity(context.Background())
	if !errors.Is(err, azure.ErrTokenRefused) {
		t.Fatalf("err = %v, want ErrTokenRefused", err)
	}
	msg := err.Error()
	for _, want := range []string{"AADSTS700213", "system:serviceaccount:orderflow:backend", "federated identity credential"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if errors.Is(err, azure.ErrNoIdentity) {
		t.Error("a refused exchange was reported as a missing identity")
	}
	// The right pairing still works (clientsFor checks the identity).
	clientsFor(t, "frontend")
}
