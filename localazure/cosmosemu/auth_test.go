package cosmosemu

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

func TestEntraRBAC(t *testing.T) {
	e := newEnv(t, nil)
	pk := azcosmos.NewPartitionKeyString("c1")
	item := mustJSON(t, order{ID: "e1", CustomerID: "c1", Total: 3})

	// Contributor: full item access, through the SDK's bearer-token path.
	contrib := e.container(e.tokenClient(oidContributor), "orderflow", "orders")
	if _, err := contrib.CreateItem(ctx(), pk, item, nil); err != nil {
		t.Fatalf("contributor create: %v", err)
	}
	if _, err := contrib.UpsertItem(ctx(), pk, item, nil); err != nil {
		t.Fatalf("contributor upsert: %v", err)
	}
	if _, err := contrib.ReadItem(ctx(), pk, "e1", nil); err != nil {
		t.Fatalf("contributor read: %v", err)
	}
	if items, _ := queryAll(t, contrib, "SELECT * FROM c", azcosmos.NewPartitionKey(), nil); len(items) != 1 {
		t.Fatalf("contributor query: %d", len(items))
	}
	var ops azcosmos.PatchOperations
	ops.AppendIncrement("/total", 1)
	if _, err := contrib.PatchItem(ctx(), pk, "e1", ops, nil); err != nil {
		t.Fatalf("contributor patch: %v", err)
	}
	if _, err := contrib.ReplaceItem(ctx(), pk, "e1", item, nil); err != nil {
		t.Fatalf("contributor replace: %v", err)
	}
	if _, err := contrib.CreateItem(ctx(), pk, mustJSON(t, order{ID: "e2", CustomerID: "c1"}), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := contrib.DeleteItem(ctx(), pk, "e2", nil); err != nil {
		t.Fatalf("contributor delete: %v", err)
	}
	b := contrib.NewTransactionalBatch(pk)
	b.UpsertItem(item, nil)
	if r, err := contrib.ExecuteTransactionalBatch(ctx(), b, nil); err != nil || !r.Success {
		t.Fatalf("contributor batch: %v", err)
	}

	// Reader: reads and queries, no writes.
	reader := e.container(e.tokenClient(oidReader), "orderflow", "orders")
	if _, err := reader.ReadItem(ctx(), pk, "e1", nil); err != nil {
		t.Fatalf("reader read: %v", err)
	}
	if items, _ := queryAll(t, reader, "SELECT * FROM c WHERE c.id = 'e1'", pk, nil); len(items) != 1 {
		t.Fatalf("reader query: %d", len(items))
	}
	if _, err := reader.Read(ctx(), nil); err != nil {
		t.Fatalf("reader metadata: %v", err)
	}
	if ranges, err := reader.ReadFeedRanges(ctx(), nil); err != nil || len(ranges) != 1 {
		t.Fatalf("reader feed ranges: %v", err)
	} else if cf, err := reader.ReadChangeFeed(ctx(), &azcosmos.ChangeFeedOptions{FeedRange: &ranges[0]}); err != nil || len(cf.Items) != 1 {
		t.Fatalf("reader change feed: %v", err)
	}
	if _, err := reader.PatchItem(ctx(), pk, "e1", ops, nil); status(t, err) != 403 {
		t.Fatalf("reader patch: %v", err)
	}
	rb := reader.NewTransactionalBatch(pk)
	rb.ReadItem("e1", nil)
	if r, err := reader.ExecuteTransactionalBatch(ctx(), rb, nil); err != nil || !r.Success {
		t.Fatalf("reader all-read batch: %v", err)
	}
	rb.UpsertItem(item, nil)
	if _, err := reader.ExecuteTransactionalBatch(ctx(), rb, nil); status(t, err) != 403 {
		t.Fatalf("reader batch with a write: %v", err)
	}
	_, err := reader.UpsertItem(ctx(), pk, item, nil)
	if status(t, err) != 403 || !strings.Contains(err.Error(), "does not have required RBAC permissions") ||
		!strings.Contains(err.Error(), "items/upsert") {
		t.Fatalf("reader upsert: %v", err)
	}
	if _, err := reader.DeleteItem(ctx(), pk, "e1", nil); status(t, err) != 403 {
		t.Fatalf("reader delete: %v", err)
	}

	// No role at all.
	nobody := e.container(e.tokenClient(oidNobody), "orderflow", "orders")
	if _, err := nobody.ReadItem(ctx(), pk, "e1", nil); status(t, err) != 403 {
		t.Fatalf("nobody read: %v", err)
	}
	// A role on another container does not reach this one, but works on its own.
	other := e.tokenClient(oidOtherColl)
	if _, err := e.container(other, "orderflow", "orders").ReadItem(ctx(), pk, "e1", nil); status(t, err) != 403 {
		t.Fatalf("other-container principal read: %v", err)
	}
	if _, err := e.container(other, "orderflow", "other").CreateItem(ctx(), azcosmos.NewPartitionKeyString("x"), []byte(`{"id":"1","pk":"x"}`), nil); err != nil {
		t.Fatalf("other-container principal create in its container: %v", err)
	}

	// Control plane through a data-plane token: refused with substatus 5300.
	_, err = e.tokenClient(oidContributor).CreateDatabase(ctx(), azcosmos.DatabaseProperties{ID: "nope"}, nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 403 || re.RawResponse.Header.Get("x-ms-substatus") != "5300" ||
		!strings.Contains(err.Error(), "cannot be authorized by AAD token in data plane") {
		t.Fatalf("create database with token: %v", err)
	}
	db, _ := e.tokenClient(oidContributor).NewDatabase("orderflow")
	if _, err := db.CreateContainer(ctx(), azcosmos.ContainerProperties{ID: "x", PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/a"}}}, nil); status(t, err) != 403 {
		t.Fatalf("create container with token: %v", err)
	}
	if _, err := e.container(e.tokenClient(oidContributor), "orderflow", "orders").Delete(ctx(), nil); status(t, err) != 403 {
		t.Fatalf("delete container with token: %v", err)
	}
}

func TestTokenValidation(t *testing.T) {
	e := newEnv(t, nil)
	path := "/dbs/orderflow/colls/orders/docs/x"
	pkh := `["c1"]`
	for name, tc := range map[string]struct {
		tok  string
		want int
	}{
		"wrong audience": {sharedIssuer().Token(oidContributor, "https://vault.azure.net", time.Hour), 401},
		"expired":        {sharedIssuer().Token(oidContributor, "https://localhost", -time.Hour), 401},
		"garbage":        {"not.a.jwt", 401},
		"public aud":     {sharedIssuer().Token(oidContributor, "https://cosmos.azure.com", time.Hour), 404},
		"127.0.0.1 aud":  {sharedIssuer().Token(oidContributor, "https://127.0.0.1", time.Hour), 404},
		// The JavaScript SDK asks for "<endpoint origin>/.default", port included.
		"endpoint with port aud": {sharedIssuer().Token(oidContributor, strings.TrimSuffix(e.endpoint, "/"), time.Hour), 404},
		"other port aud":         {sharedIssuer().Token(oidContributor, "https://localhost:1", time.Hour), 401},
	} {
		resp, body := e.do("GET", path, nil, map[string]string{"Authorization": "type=aad&ver=1.0&sig=" + tc.tok, "x-ms-documentdb-partitionkey": pkh})
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d %s, want %d", name, resp.StatusCode, body, tc.want)
		}
	}
	// Entra disabled: no verifier configured.
	e2 := newEnv(t, func(o *Options) { o.Verifier = nil })
	resp, _ := e2.do("GET", path, nil, map[string]string{"Authorization": "type=aad&ver=1.0&sig=" + sharedIssuer().Token(oidContributor, "https://localhost", time.Hour), "x-ms-documentdb-partitionkey": pkh})
	if resp.StatusCode != 401 {
		t.Fatalf("no verifier: %d", resp.StatusCode)
	}
}

func TestMasterKey(t *testing.T) {
	e := newEnv(t, nil)
	path := "/dbs/orderflow/colls/orders/docs/x"
	hdr := func(auth, date string) map[string]string {
		return map[string]string{"Authorization": auth, "x-ms-date": date, "x-ms-documentdb-partitionkey": `["c1"]`}
	}
	now := time.Now().UTC().Format(http.TimeFormat)
	link := "dbs/orderflow/colls/orders/docs/x"

	// Right key: passes auth (404: no such item).
	if resp, _ := e.do("GET", path, nil, hdr(masterAuth(EmulatorKey, "GET", "docs", link, now), now)); resp.StatusCode != 404 {
		t.Fatalf("good signature: %d", resp.StatusCode)
	}
	// Wrong key, wrong link, wrong verb: 401 with the payload the server signed.
	other := "dGhpcyBpcyBub3QgdGhlIGtleSB0aGlzIGlzIG5vdCB0aGUga2V5IGF0IGFsbCEhIQ=="
	for name, auth := range map[string]string{
		"wrong key":  masterAuth(other, "GET", "docs", link, now),
		"wrong link": masterAuth(EmulatorKey, "GET", "docs", "dbs/orderflow/colls/orders/docs/y", now),
		"wrong verb": masterAuth(EmulatorKey, "DELETE", "docs", link, now),
		"case link":  masterAuth(EmulatorKey, "GET", "docs", strings.ToUpper(link), now),
	} {
		resp, body := e.do("GET", path, nil, hdr(auth, now))
		if resp.StatusCode != 401 || !strings.Contains(string(body), "Server used the following payload to sign") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	// Stale date: 403 like Cosmos.
	old := time.Now().Add(-20 * time.Minute).UTC().Format(http.TimeFormat)
	resp, body := e.do("GET", path, nil, hdr(masterAuth(EmulatorKey, "GET", "docs", link, old), old))
	if resp.StatusCode != 403 || !strings.Contains(string(body), "not valid at the current time") {
		t.Fatalf("stale date: %d %s", resp.StatusCode, body)
	}
	// No Authorization header.
	req, _ := http.NewRequest("GET", strings.TrimSuffix(e.endpoint, "/")+path, nil)
	r2, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 401 {
		t.Fatalf("no auth: %d", r2.StatusCode)
	}
	// A custom key works with the SDK.
	key := "dGhpcyBpcyBub3QgdGhlIGtleSB0aGlzIGlzIG5vdCB0aGUga2V5IGF0IGFsbCEhIQ=="
	e3 := newEnv(t, func(o *Options) { o.MasterKey = key })
	cred, _ := azcosmos.NewKeyCredential(key)
	c, _ := azcosmos.NewClientWithKey(e3.endpoint, cred, e3.clientOptions())
	cc, _ := c.NewContainer("orderflow", "orders")
	if _, err := cc.CreateItem(ctx(), azcosmos.NewPartitionKeyString("k"), []byte(`{"id":"1","customerId":"k"}`), nil); err != nil {
		t.Fatalf("custom key: %v", err)
	}
	if _, err := e.container(e.keyClient(), "orderflow", "orders").ReadItem(ctx(), azcosmos.NewPartitionKeyString("k"), "1", nil); status(t, err) != 404 {
		t.Fatalf("servers share state? %v", err)
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, func(o *Options) { o.DataDir = dir })
	cc := e.container(e.keyClient(), "orderflow", "orders")
	if _, err := cc.CreateItem(ctx(), azcosmos.NewPartitionKeyString("p"), []byte(`{"id":"keep","customerId":"p","n":1}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.ReplaceThroughput(ctx(), azcosmos.NewManualThroughputProperties(700), nil); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Close(); err != nil {
		t.Fatal(err)
	}
	e2 := newEnv(t, func(o *Options) { o.DataDir = dir })
	cc2 := e2.container(e2.keyClient(), "orderflow", "orders")
	r, err := cc2.ReadItem(ctx(), azcosmos.NewPartitionKeyString("p"), "keep", nil)
	if err != nil || !strings.Contains(string(r.Value), `"n":1`) {
		t.Fatalf("after restart: %v %s", err, r.Value)
	}
	if tr, err := cc2.ReadThroughput(ctx(), nil); err != nil {
		t.Fatalf("throughput after restart: %v", err)
	} else if n, _ := tr.ThroughputProperties.ManualThroughput(); n != 700 {
		t.Fatalf("throughput after restart: %d", n)
	}
	if _, err := cc2.CreateItem(ctx(), azcosmos.NewPartitionKeyString("p"), []byte(`{"id":"keep2","customerId":"p"}`), nil); err != nil {
		t.Fatal(err)
	}
	r2, _ := cc2.ReadItem(ctx(), azcosmos.NewPartitionKeyString("p"), "keep2", nil)
	if strings.Contains(string(r2.Value), `"_rid":`+`"`+extractRID(r.Value)+`"`) {
		t.Fatalf("resource id reused after restart")
	}
}

func extractRID(b []byte) string {
	s := string(b)
	i := strings.Index(s, `"_rid":"`)
	if i < 0 {
		return ""
	}
	s = s[i+8:]
	return s[:strings.IndexByte(s, '"')]
}
