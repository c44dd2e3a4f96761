package cosmosemu

import (
	"encoding/json"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

// TestPatchBareArray: the JavaScript SDK sends item.patch([...]) as a bare JSON array of
// operations, which the gateway accepts like {"operations": [...]}.
func TestPatchBareArray(t *testing.T) {
	e := newEnv(t, nil)
	cc := e.container(e.keyClient(), "orderflow", "orders")
	if _, err := cc.CreateItem(ctx(), azcosmos.NewPartitionKeyString("c1"), []byte(`{"id":"pa","customerId":"c1","total":10}`), nil); err != nil {
		t.Fatal(err)
	}
	resp, body := e.do("PATCH", "/dbs/orderflow/colls/orders/docs/pa",
		[]byte(` [{"op":"set","path":"/status","value":"shipped"},{"op":"incr","path":"/total","value":5}]`),
		map[string]string{"x-ms-documentdb-partitionkey": `["c1"]`, "Content-Type": "application/json_patch+json"})
	if resp.StatusCode != 200 {
		t.Fatalf("PATCH with a bare array: %d %s", resp.StatusCode, body)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil || got["status"] != "shipped" || got["total"] != 15.0 {
		t.Fatalf("patched: %s (%v)", body, err)
	}
	// A malformed body is still a 400.
	if resp, body := e.do("PATCH", "/dbs/orderflow/colls/orders/docs/pa", []byte(`[{"op":`),
		map[string]string{"x-ms-documentdb-partitionkey": `["c1"]`}); resp.StatusCode != 400 {
		t.Fatalf("malformed patch: %d %s", resp.StatusCode, body)
	}
}
