package stack_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/contoso/orderflow/localazure/authz"
)

// findAccess waits briefly for an access matching want's non-zero fields, recorded
// at or after since.
func findAccess(t *testing.T, since time.Time, want authz.Access) authz.Access {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		for _, a := range st.Access().Recent() {
			if a.Time.Before(since) || a.Workload != want.Workload || a.Service != want.Service || a.Decision != want.Decision {
				continue
			}
			if (want.Operation == "" || a.Operation == want.Operation) && (want.Resource == "" || a.Resource == want.Resource) {
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access like %+v; recent:\n%+v", want, st.Access().Recent())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAccessLogRecordsWhoDidWhat: every data-plane decision is recorded with the
// workload, the operation, the resource, the role that allowed it or the roles that
// would have, and (HTTP) the status.
func TestAccessLogRecordsWhoDidWhat(t *testing.T) {
	ctx := testCtx(t)
	since := time.Now()
	env := st.Env("frontend")
	kv, err := azsecrets.NewClient(env["KEYVAULT_URL"], credentialFromEnv(t, "frontend"), &azsecrets.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: httpClient()}, DisableChallengeResourceVerification: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.GetSecret(ctx, env["RECEIPT_KEY_SECRET"], "", nil); err != nil {
		t.Fatal(err)
	}
	_, _ = kv.SetSecret(ctx, "not-allowed", azsecrets.SetSecretParameters{Value: ptr("x")}, nil)

	got := findAccess(t, since, authz.Access{Workload: "frontend", Service: "keyvault", Decision: authz.Allowed,
		Operation: "Microsoft.KeyVault/vaults/secrets/getSecret/action", Resource: "keyvault/secrets/receipt-signing-key"})
	if got.Role != authz.KeyVaultSecretsUser || got.Status != http.StatusOK || got.Duration <= 0 {
		t.Errorf("allowed get: %+v", got)
	}
	denied := findAccess(t, since, authz.Access{Workload: "frontend", Service: "keyvault", Decision: authz.Denied, Resource: "keyvault/secrets/not-allowed"})
	if denied.Status != http.StatusForbidden || denied.Role == "" {
		t.Errorf("denied set: %+v (want 403 and the roles that would allow it)", denied)
	}

	c := blobClient(t, credentialFromEnv(t, "frontend"))
	_, _ = c.UploadBuffer(ctx, "receipts", "forged.json", []byte("{}"), nil)
	blob := findAccess(t, since, authz.Access{Workload: "frontend", Service: "blob", Decision: authz.Denied, Resource: "storage/receipts"})
	if blob.Status != http.StatusForbidden {
		t.Errorf("denied blob write: %+v", blob)
	}

	sender, err := sbClient(t, "frontend").NewSender("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close(context.Background())
	if err := sender.SendMessage(ctx, &azservicebus.Message{Body: []byte("audit")}, nil); err != nil {
		t.Fatal(err)
	}
	sb := findAccess(t, since, authz.Access{Workload: "frontend", Service: "servicebus", Decision: authz.Allowed, Operation: "Send", Resource: "servicebus/orders"})
	if sb.Role != authz.ServiceBusDataSender {
		t.Errorf("send: %+v", sb)
	}
	// Drain what was sent so that other tests start from an empty queue.
	r, _ := sbClient(t, "backend").NewReceiverForQueue("orders", nil)
	msgs, _ := r.ReceiveMessages(ctx, 1, nil)
	for _, m := range msgs {
		_ = r.CompleteMessage(ctx, m, nil)
	}
}
