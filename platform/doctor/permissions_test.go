package doctor_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/azure"
	"github.com/contoso/orderflow/platform/config"
	"github.com/contoso/orderflow/platform/doctor"
)

// readPermissions probes service's permissions with clients built from env, as the
// service builds its own.
func readPermissions(t *testing.T, service string, env map[string]string) map[string]doctor.Permission {
	t.Helper()
	cfg, err := config.LoadFor(service, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	clients, err := azure.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = clients.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]doctor.Permission{}
	for _, p := range doctor.ReadPermissions(ctx, service, cfg, clients, 10*time.Second) {
		out[p.Check] = p
	}
	return out
}

func TestReadPermissionsFrontend(t *testing.T) {
	got := readPermissions(t, "frontend", workloadEnv(t, "frontend"))
	want := map[string]struct {
		status doctor.PermissionStatus
		role   string
		scope  string
	}{
		"keyvault-secret":                       {doctor.Allowed, "Key Vault Secrets User", "keyvault"},
		"cosmos-read":                           {doctor.Allowed, "Cosmos DB Built-in Data Contributor", "cosmos/dbs/orderflow"},
		"blob-read:attachments":                 {doctor.Allowed, "Storage Blob Data Contributor", "storage/attachments"},
		"blob-write:attachments":                {doctor.NotProbed, "Storage Blob Data Contributor", "storage/attachments"},
		"blob-read:receipts":                    {doctor.Allowed, "Storage Blob Data Reader", "storage/receipts"},
		"servicebus-send:orders":                {doctor.NotProbed, "Azure Service Bus Data Sender", "servicebus/orders"},
		"servicebus-peek:order-events/frontend": {doctor.Allowed, "Azure Service Bus Data Receiver", "servicebus/order-events/subscriptions/frontend"},
	}
	if len(got) != len(want) {
		t.Errorf("%d permissions, want %d: %+v", len(got), len(want), got)
	}
	for name, w := range want {
		p, ok := got[name]
		if !ok {
			t.Errorf("no permission %s", name)
			continue
		}
		if p.Status != w.status || p.Role != w.role || p.Scope != w.scope || !p.Entra || p.AssignedIn == "" || p.Detail == "" {
			t.Errorf("%s: %+v, want status %s role %s scope %s", name, p, w.status, w.role, w.scope)
		}
	}
}

// The backend's identity probing the frontend's needs: the Receiver role on the
// frontend's subscription is the frontend's only, so that probe is denied while
// the shared ones pass.
func TestReadPermissionsDenied(t *testing.T) {
	env := workloadEnv(t, "frontend")
	backend := workloadEnv(t, "backend")
	env["AZURE_CLIENT_ID"] = backend["AZURE_CLIENT_ID"]
	env["AZURE_FEDERATED_TOKEN_FILE"] = backend["AZURE_FEDERATED_TOKEN_FILE"]
	got := readPermissions(t, "frontend", env)
	if p := got["servicebus-peek:order-events/frontend"]; p.Status != doctor.Denied || p.Fix == "" {
		t.Errorf("peek of the frontend's subscription as the backend: %+v, want denied with a fix", p)
	}
	if p := got["keyvault-secret"]; p.Status != doctor.Allowed {
		t.Errorf("keyvault as the backend: %+v, want ok", p)
	}
}
