package cosmos

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/orders"
)

func TestDocumentShape(t *testing.T) {
	created := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	o := &orders.Order{ID: "o1", CustomerID: "alice", Status: orders.StatusPending, Total: 5, CreatedAt: created, ETag: `"stale"`}
	b, err := encode(o)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	// id and customerId are what Cosmos DB keys on; the etag is never written back.
	if m["id"] != "o1" || m["customerId"] != "alice" || m["createdAtMs"] != float64(created.UnixMilli()) || m["published"] != false {
		t.Errorf("document = %s", b)
	}
	if _, ok := m["_etag"]; ok {
		t.Errorf("etag written into the document: %s", b)
	}
	// Reading back picks up the system etag.
	m["_etag"] = `"00000a00-0000"`
	m["_rid"] = "x"
	b2, _ := json.Marshal(m)
	back, err := decode(b2)
	if err != nil {
		t.Fatal(err)
	}
	if back.ETag != `"00000a00-0000"` || back.ID != "o1" || !back.CreatedAt.Equal(created) {
		t.Errorf("decoded = %+v", back)
	}
}
