package stack_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/contoso/orderflow/localazure/stack"
)

// TestDataDirAndTokenRotation runs a second stack of its own: without Blob, with a
// data directory and a short service-account token lifetime, and restarts it.
func TestDataDirAndTokenRotation(t *testing.T) {
	ctx := testCtx(t)
	data, state := t.TempDir(), t.TempDir()
	opts := stack.Options{DataDir: data, StateDir: state, TokenTTL: 3 * time.Second}

	s1, err := stack.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	env := s1.Env("backend")
	if _, ok := env["STORAGE_BLOB_ENDPOINT"]; ok || s1.Endpoints().Blob != "" {
		t.Errorf("Blob off, yet STORAGE_BLOB_ENDPOINT = %q", env["STORAGE_BLOB_ENDPOINT"])
	}
	if env["SSL_CERT_FILE"] != state+"/ca.pem" {
		t.Errorf("SSL_CERT_FILE = %s, want the CA in the state directory", env["SSL_CERT_FILE"])
	}

	// The token file is rewritten before it expires, as kubelet does.
	tokenFile := env["AZURE_FEDERATED_TOKEN_FILE"]
	first, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		now, _ := os.ReadFile(tokenFile)
		if len(now) > 0 && string(now) != string(first) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("token file not rotated within 5s with a 3s lifetime")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Data written now must be there after a restart on the same data directory.
	cosmosKey := func(s *stack.Stack) *azcosmos.ContainerClient {
		cred, _ := azcosmos.NewKeyCredential(s.Endpoints().CosmosKey)
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CACertPool()}}}
		c, err := azcosmos.NewClientWithKey(s.Endpoints().Cosmos, cred, &azcosmos.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: hc}})
		if err != nil {
			t.Fatal(err)
		}
		cc, _ := c.NewContainer("orderflow", "orders")
		return cc
	}
	pk := azcosmos.NewPartitionKeyString("cust-7")
	doc, _ := json.Marshal(map[string]any{"id": "kept", "customerId": "cust-7"})
	if _, err := cosmosKey(s1).UpsertItem(ctx, pk, doc, nil); err != nil {
		t.Fatal(err)
	}
	sb, err := azservicebus.NewClientFromConnectionString(s1.Endpoints().ServiceBusConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	snd, _ := sb.NewSender("orders", nil)
	if err := snd.SendMessage(ctx, &azservicebus.Message{Body: []byte("survives")}, nil); err != nil {
		t.Fatal(err)
	}
	sb.Close(ctx)
	ca1, _ := os.ReadFile(s1.CAFile())
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("Close removed a state directory it was given: %v", err)
	}

	s2, err := stack.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	ca2, _ := os.ReadFile(s2.CAFile())
	if string(ca1) != string(ca2) {
		t.Error("the CA changed across restarts on the same state directory; SSL_CERT_FILE users would have to re-trust it")
	}
	if _, err := cosmosKey(s2).ReadItem(ctx, pk, "kept", nil); err != nil {
		t.Errorf("Cosmos item lost across a restart with a data directory: %v", err)
	}
	sb2, _ := azservicebus.NewClientFromConnectionString(s2.Endpoints().ServiceBusConnectionString, nil)
	defer sb2.Close(ctx)
	rcv, _ := sb2.NewReceiverForQueue("orders", nil)
	short, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msgs, err := rcv.ReceiveMessages(short, 1, nil)
	if err != nil || len(msgs) != 1 || string(msgs[0].Body) != "survives" {
		t.Errorf("Service Bus message lost across a restart with a data directory: %v %v", msgs, err)
	}
}

// TestTempStateRemoved: without a StateDir, Close removes the one it made.
func TestTempStateRemoved(t *testing.T) {
	s, err := stack.Start(testCtx(t), stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := s.StateDir()
	if _, err := os.Stat(s.CAFile()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("temporary state directory %s still there after Close (%v)", dir, err)
	}
}
