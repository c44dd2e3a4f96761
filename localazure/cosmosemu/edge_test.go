package cosmosemu

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

func TestUnusualKeysAndIDs(t *testing.T) {
	e := newEnv(t, nil)
	cc := e.container(e.keyClient(), "orderflow", "orders")
	cases := []struct {
		id  string
		pk  any
		pkv azcosmos.PartitionKey
	}{
		{"with space", "München <&>", azcosmos.NewPartitionKeyString("München <&>")},
		{"ünïcødé:+=%", `quote"back\slash`, azcosmos.NewPartitionKeyString(`quote"back\slash`)},
		{"num", 42.5, azcosmos.NewPartitionKeyNumber(42.5)},
		{"bool", true, azcosmos.NewPartitionKeyBool(true)},
		{"null", nil, azcosmos.NullPartitionKey},
	}
	for _, c := range cases {
		body := mustJSON(t, map[string]any{"id": c.id, "customerId": c.pk, "v": 1})
		if _, err := cc.CreateItem(ctx(), c.pkv, body, nil); err != nil {
			t.Fatalf("create %q/%v: %v", c.id, c.pk, err)
		}
		r, err := cc.ReadItem(ctx(), c.pkv, c.id, nil)
		if err != nil {
			t.Fatalf("read %q/%v: %v", c.id, c.pk, err)
		}
		var got map[string]any
		_ = json.Unmarshal(r.Value, &got)
		if got["id"] != c.id {
			t.Fatalf("read back %s", r.Value)
		}
		items, _ := queryAll(t, cc, "SELECT * FROM c WHERE c.id = @id", c.pkv, &azcosmos.QueryOptions{QueryParameters: []azcosmos.QueryParameter{{Name: "@id", Value: c.id}}})
		if len(items) != 1 {
			t.Fatalf("query in partition %v: %d", c.pk, len(items))
		}
		if _, err := cc.DeleteItem(ctx(), c.pkv, c.id, nil); err != nil {
			t.Fatalf("delete %q: %v", c.id, err)
		}
	}
	// A document without the partition key property lives in the "undefined" partition.
	resp, body := e.do("POST", "/dbs/orderflow/colls/orders/docs", []byte(`{"id":"nokey"}`), map[string]string{"x-ms-documentdb-partitionkey": "[{}]"})
	if resp.StatusCode != 201 {
		t.Fatalf("undefined partition key: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/dbs/orderflow/colls/orders/docs/nokey", nil, map[string]string{"x-ms-documentdb-partitionkey": "[]"})
	if resp.StatusCode != 200 {
		t.Fatalf("undefined partition key spelled []: %d %s", resp.StatusCode, body)
	}
	// Ids Cosmos refuses.
	resp, _ = e.do("POST", "/dbs/orderflow/colls/orders/docs", []byte(`{"id":"a/b","customerId":"x"}`), map[string]string{"x-ms-documentdb-partitionkey": `["x"]`})
	if resp.StatusCode != 400 {
		t.Fatalf("id with slash: %d", resp.StatusCode)
	}
	resp, _ = e.do("POST", "/dbs/orderflow/colls/orders/docs", []byte(`{"customerId":"x"}`), map[string]string{"x-ms-documentdb-partitionkey": `["x"]`})
	if resp.StatusCode != 400 {
		t.Fatalf("missing id: %d", resp.StatusCode)
	}
	resp, _ = e.do("POST", "/dbs/orderflow/colls/orders/docs", []byte(`[1,2]`), map[string]string{"x-ms-documentdb-partitionkey": `["x"]`})
	if resp.StatusCode != 400 {
		t.Fatalf("array body: %d", resp.StatusCode)
	}
	// Point read without a partition key.
	resp, _ = e.do("GET", "/dbs/orderflow/colls/orders/docs/nokey", nil, nil)
	if resp.StatusCode != 400 {
		t.Fatalf("read without partition key: %d", resp.StatusCode)
	}
	// Direct mode is refused with a pointer to gateway mode.
	resp, body = e.do("GET", "/addresses/", nil, nil)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "gateway mode") {
		t.Fatalf("addresses: %d %s", resp.StatusCode, body)
	}
	// System properties in the body are replaced, not trusted.
	resp, body = e.do("POST", "/dbs/orderflow/colls/orders/docs", []byte(`{"id":"sys","customerId":"x","_etag":"\"forged\"","_ts":1}`),
		map[string]string{"x-ms-documentdb-partitionkey": `["x"]`})
	if resp.StatusCode != 201 || strings.Contains(string(body), "forged") || strings.Contains(string(body), `"_ts":1,`) {
		t.Fatalf("system properties: %d %s", resp.StatusCode, body)
	}
}

func TestHierarchicalPartitionKey(t *testing.T) {
	e := newEnv(t, nil)
	c := e.keyClient()
	db, _ := c.NewDatabase("orderflow")
	props := azcosmos.ContainerProperties{ID: "events", PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{
		Kind: azcosmos.PartitionKeyKindMultiHash, Version: 2, Paths: []string{"/tenant", "/user"}}}
	if _, err := db.CreateContainer(ctx(), props, nil); err != nil {
		t.Fatal(err)
	}
	cc, _ := db.NewContainer("events")
	pk := azcosmos.NewPartitionKeyString("t1").AppendString("u1")
	if _, err := cc.CreateItem(ctx(), pk, []byte(`{"id":"1","tenant":"t1","user":"u1"}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.ReadItem(ctx(), pk, "1", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.CreateItem(ctx(), pk, []byte(`{"id":"2","tenant":"t1","user":"u2"}`), nil); status(t, err) != 400 {
		t.Fatalf("mismatched second level: %v", err)
	}
}

// .NET and Java address partition key ranges (and can address anything) through
// self links made of resource ids, and sign the lower-cased rid.
func TestRIDAddressing(t *testing.T) {
	e := newEnv(t, nil)
	cc := e.container(e.keyClient(), "orderflow", "orders")
	cr, err := cc.Read(ctx(), nil)
	if err != nil {
		t.Fatal(err)
	}
	self := strings.TrimSuffix(cr.ContainerProperties.SelfLink, "/") // dbs/<dbRid>/colls/<collRid>
	parts := strings.Split(self, "/")
	collRID := parts[3]
	date := time.Now().UTC().Format(http.TimeFormat)
	resp, body := e.do("GET", "/"+self+"/pkranges", nil, map[string]string{"x-ms-date": date,
		"Authorization": masterAuth(EmulatorKey, "GET", "pkranges", strings.ToLower(collRID), date)})
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"id":"0"`) {
		t.Fatalf("rid-based pkranges: %d %s", resp.StatusCode, body)
	}
	// A document by its rid.
	r, err := cc.CreateItem(ctx(), azcosmos.NewPartitionKeyString("r"), []byte(`{"id":"byrid","customerId":"r"}`), &azcosmos.ItemOptions{EnableContentResponseOnWrite: true})
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Self string `json:"_self"`
		RID  string `json:"_rid"`
	}
	_ = json.Unmarshal(r.Value, &d)
	resp, body = e.do("GET", "/"+strings.TrimSuffix(d.Self, "/"), nil, map[string]string{"x-ms-date": date,
		"x-ms-documentdb-partitionkey": `["r"]`,
		"Authorization":                masterAuth(EmulatorKey, "GET", "docs", strings.ToLower(d.RID), date)})
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"id":"byrid"`) {
		t.Fatalf("rid-based item read: %d %s", resp.StatusCode, body)
	}
	// RBAC names the container, whichever way it is addressed.
	tok := sharedIssuer().Token(oidReader, "https://localhost", time.Hour)
	resp, _ = e.do("GET", "/"+self+"/pkranges", nil, map[string]string{"Authorization": "type=aad&ver=1.0&sig=" + tok})
	if resp.StatusCode != 200 {
		t.Fatalf("rid-based pkranges with a reader token: %d", resp.StatusCode)
	}
}

func TestDebugRequestLog(t *testing.T) {
	var buf syncBuffer
	e := newEnv(t, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	e.do("GET", "/dbs/orderflow/colls/orders/docs/none", nil, map[string]string{"x-ms-documentdb-partitionkey": `["x"]`})
	if out := buf.String(); !strings.Contains(out, "msg=request") || !strings.Contains(out, "status=404") {
		t.Fatalf("debug log: %s", out)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
