package stack_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/contoso/orderflow/localazure/fault"
)

// setFaults replaces the run-time faults for the rest of the test.
func setFaults(t *testing.T, rules ...fault.Rule) {
	t.Helper()
	if err := st.Faults().Set("runtime", rules); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Faults().Set("runtime", nil) })
}

func cosmosContainer(t *testing.T, retry policy.RetryOptions) *azcosmos.ContainerClient {
	t.Helper()
	env := st.Env("backend")
	client, err := azcosmos.NewClient(env["COSMOS_ENDPOINT"], credentialFromEnv(t, "backend"), &azcosmos.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: httpClient(), Retry: retry},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := client.NewContainer(env["COSMOS_DATABASE"], env["COSMOS_CONTAINER"])
	return c
}

// TestCosmosThrottleIsRetriedBySDK: a 429 with x-ms-retry-after-ms is what the SDK
// sees and honours: without retries the caller gets TooManyRequests; with the
// defaults the write succeeds once the window has passed.
func TestCosmosThrottleIsRetriedBySDK(t *testing.T) {
	ctx := testCtx(t)
	pk := azcosmos.NewPartitionKeyString("fault-cust")
	setFaults(t, fault.Rule{Service: "cosmos", Operation: "write", Path: "/docs", Fault: "throttle", RetryAfter: "200ms", For: "500ms"})
	noRetry := cosmosContainer(t, policy.RetryOptions{MaxRetries: -1})
	_, err := noRetry.CreateItem(ctx, pk, []byte(`{"id":"f1","customerId":"fault-cust"}`), nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusTooManyRequests || re.RawResponse.Header.Get("x-ms-retry-after-ms") != "200" {
		t.Fatalf("create under a throttle, no retries: %v", err)
	}
	began := time.Now()
	if _, err := cosmosContainer(t, policy.RetryOptions{}).CreateItem(ctx, pk, []byte(`{"id":"f1","customerId":"fault-cust"}`), nil); err != nil {
		t.Fatalf("create under a throttle with the SDK's retries: %v", err)
	}
	t.Logf("created after %s of throttling", time.Since(began).Round(time.Millisecond))
	// Reads were not part of the rule.
	if _, err := noRetry.ReadItem(ctx, pk, "f1", nil); err != nil {
		t.Fatal(err)
	}
}

func TestCosmosLatency(t *testing.T) {
	ctx := testCtx(t)
	c := cosmosContainer(t, policy.RetryOptions{})
	pk := azcosmos.NewPartitionKeyString("fault-lat")
	if _, err := c.UpsertItem(ctx, pk, []byte(`{"id":"l1","customerId":"fault-lat"}`), nil); err != nil {
		t.Fatal(err)
	}
	setFaults(t, fault.Rule{Service: "cosmos", Operation: "read", Fault: "latency", Latency: "400ms"})
	began := time.Now()
	if _, err := c.ReadItem(ctx, pk, "l1", nil); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < 400*time.Millisecond {
		t.Fatalf("read took %s under a 400ms latency fault", took)
	}
}

func TestKeyVaultThrottleAndUnavailable(t *testing.T) {
	ctx := testCtx(t)
	env := st.Env("frontend")
	client := func(retries int32) *azsecrets.Client {
		c, err := azsecrets.NewClient(env["KEYVAULT_URL"], credentialFromEnv(t, "frontend"), &azsecrets.ClientOptions{
			ClientOptions:                        azcore.ClientOptions{Transport: httpClient(), Retry: policy.RetryOptions{MaxRetries: retries}},
			DisableChallengeResourceVerification: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// Warm the credential and the challenge first: the rule is for the secret read.
	if _, err := client(-1).GetSecret(ctx, env["RECEIPT_KEY_SECRET"], "", nil); err != nil {
		t.Fatal(err)
	}
	setFaults(t, fault.Rule{Service: "keyvault", Path: "/secrets/", Fault: "throttle", For: "1s"})
	_, err := client(-1).GetSecret(ctx, env["RECEIPT_KEY_SECRET"], "", nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusTooManyRequests || re.ErrorCode != "Throttled" || re.RawResponse.Header.Get("Retry-After") != "1" {
		t.Fatalf("get under a throttle, no retries: %v", err)
	}
	if _, err := client(3).GetSecret(ctx, env["RECEIPT_KEY_SECRET"], "", nil); err != nil {
		t.Fatalf("get under a throttle with retries: %v", err)
	}
	setFaults(t, fault.Rule{Service: "keyvault", Path: "/secrets/", Fault: "unavailable"})
	_, err = client(-1).GetSecret(ctx, env["RECEIPT_KEY_SECRET"], "", nil)
	if !errors.As(err, &re) || re.StatusCode != http.StatusServiceUnavailable || re.ErrorCode != "ServiceUnavailable" {
		t.Fatalf("get while unavailable: %v", err)
	}
}

func TestBlobThrottleIsServerBusy(t *testing.T) {
	ctx := testCtx(t)
	setFaults(t, fault.Rule{Service: "blob", Operation: "write", Path: "/receipts/", Fault: "throttle"})
	c, err := azblob.NewClient(blobEndpoint(t), credentialFromEnv(t, "backend"), &azblob.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: httpClient(), Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.UploadBuffer(ctx, "receipts", "fault.json", []byte("{}"), nil)
	if !bloberror.HasCode(err, bloberror.ServerBusy) {
		t.Fatalf("upload under a throttle: %v, want ServerBusy", err)
	}
	// Only the receipts container was named.
	if _, err := c.UploadBuffer(ctx, "attachments", "fault.txt", []byte("x"), nil); err != nil && strings.Contains(err.Error(), "ServerBusy") {
		t.Fatalf("attachments upload hit the receipts rule: %v", err)
	}
}

// TestServiceBusLostLockThroughRule: a lose-locks rule reaches the broker.
func TestServiceBusLostLockThroughRule(t *testing.T) {
	ctx := testCtx(t)
	sender, err := sbClient(t, "frontend").NewSender("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sender.SendMessage(ctx, &azservicebus.Message{Body: []byte("fault")}, nil); err != nil {
		t.Fatal(err)
	}
	receiver, err := sbClient(t, "backend").NewReceiverForQueue("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := receiver.ReceiveMessages(ctx, 1, nil)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("receive: %v %d", err, len(msgs))
	}
	setFaults(t, fault.Rule{Service: "servicebus", Fault: "lose-locks"})
	time.Sleep(300 * time.Millisecond)
	err = receiver.CompleteMessage(ctx, msgs[0], nil)
	var sbe *azservicebus.Error
	if !errors.As(err, &sbe) || sbe.Code != azservicebus.CodeLockLost {
		t.Fatalf("complete after lose-locks: %v", err)
	}
	again, err := receiver.ReceiveMessages(ctx, 1, nil)
	if err != nil || len(again) != 1 || again[0].DeliveryCount != msgs[0].DeliveryCount+1 {
		t.Fatalf("redelivery: %v %+v", err, again)
	}
	if err := receiver.CompleteMessage(ctx, again[0], nil); err != nil {
		t.Fatal(err)
	}
}
