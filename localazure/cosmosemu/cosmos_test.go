package cosmosemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

type order struct {
	ID         string  `json:"id"`
	CustomerID string  `json:"customerId"`
	Total      float64 `json:"total"`
	Status     string  `json:"status,omitempty"`
	ETag       string  `json:"_etag,omitempty"`
	TS         int64   `json:"_ts,omitempty"`
}

func TestAccountDocument(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.do("GET", "/", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET / = %d %s", resp.StatusCode, body)
	}
	var acct struct {
		Writable []struct{ Name, DatabaseAccountEndpoint string } `json:"writableLocations"`
		Readable []struct{ Name, DatabaseAccountEndpoint string } `json:"readableLocations"`
		Policy   struct{ DefaultConsistencyLevel string }         `json:"userConsistencyPolicy"`
		QEC      string                                           `json:"queryEngineConfiguration"`
	}
	if err := json.Unmarshal(body, &acct); err != nil {
		t.Fatal(err)
	}
	if len(acct.Writable) != 1 || acct.Writable[0].DatabaseAccountEndpoint != e.endpoint || acct.Readable[0].DatabaseAccountEndpoint != e.endpoint {
		t.Fatalf("locations do not point back at %s: %s", e.endpoint, body)
	}
	if acct.Policy.DefaultConsistencyLevel != "Session" || !strings.Contains(acct.QEC, "maxSqlQueryInputLength") {
		t.Fatalf("account document incomplete: %s", body)
	}
	for _, h := range []string{"x-ms-request-charge", "x-ms-activity-id", "Content-Type"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("header %s missing", h)
		}
	}
}

func TestDatabasesAndContainers(t *testing.T) {
	e := newEnv(t, nil)
	c := e.keyClient()
	if _, err := c.CreateDatabase(ctx(), azcosmos.DatabaseProperties{ID: "shop"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDatabase(ctx(), azcosmos.DatabaseProperties{ID: "shop"}, nil); status(t, err) != 409 {
		t.Fatalf("duplicate database: %v", err)
	}
	db, _ := c.NewDatabase("shop")
	dr, err := db.Read(ctx(), nil)
	if err != nil || dr.DatabaseProperties.ID != "shop" || dr.DatabaseProperties.ResourceID == "" {
		t.Fatalf("read database: %+v %v", dr.DatabaseProperties, err)
	}
	pager := c.NewQueryDatabasesPager("SELECT * FROM root r WHERE r.id = 'shop'", nil)
	n := 0
	for pager.More() {
		page, err := pager.NextPage(ctx())
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Databases)
	}
	if n != 1 {
		t.Fatalf("query databases found %d", n)
	}
	props := azcosmos.ContainerProperties{ID: "carts", PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/userId"}}}
	if _, err := db.CreateContainer(ctx(), props, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateContainer(ctx(), props, nil); status(t, err) != 409 {
		t.Fatalf("duplicate container: %v", err)
	}
	cc, _ := db.NewContainer("carts")
	cr, err := cc.Read(ctx(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := cr.ContainerProperties.PartitionKeyDefinition; len(p.Paths) != 1 || p.Paths[0] != "/userId" || p.Version != 2 {
		t.Fatalf("partition key definition: %+v", p)
	}
	resp, body := e.do("GET", "/dbs/shop/colls", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"DocumentCollections":[{`) || !strings.Contains(string(body), `"_count":1`) {
		t.Fatalf("list containers: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/dbs", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"_count":2`) {
		t.Fatalf("list databases: %d %s", resp.StatusCode, body)
	}
	if _, err := cc.Delete(ctx(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Read(ctx(), nil); status(t, err) != 404 {
		t.Fatalf("read deleted container: %v", err)
	}
	if _, err := db.Delete(ctx(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Read(ctx(), nil); status(t, err) != 404 {
		t.Fatalf("read deleted database: %v", err)
	}
}

func TestPartitionKeyRanges(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.do("GET", "/dbs/orderflow/colls/orders/pkranges", nil, map[string]string{"A-IM": "Incremental feed"})
	if resp.StatusCode != 200 {
		t.Fatalf("pkranges: %d %s", resp.StatusCode, body)
	}
	var pr struct {
		Ranges []struct {
			ID, MinInclusive, MaxExclusive string
		} `json:"PartitionKeyRanges"`
	}
	if err := json.Unmarshal(body, &pr); err != nil {
		t.Fatal(err)
	}
	if len(pr.Ranges) != 1 || pr.Ranges[0].ID != "0" || pr.Ranges[0].MinInclusive != "" || pr.Ranges[0].MaxExclusive != "FF" {
		t.Fatalf("ranges: %s", body)
	}
	etag := resp.Header.Get("Etag")
	resp, _ = e.do("GET", "/dbs/orderflow/colls/orders/pkranges", nil, map[string]string{"A-IM": "Incremental feed", "If-None-Match": etag})
	if resp.StatusCode != 304 {
		t.Fatalf("pkranges with If-None-Match = %d, want 304", resp.StatusCode)
	}
}

func TestItemLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	cc := e.container(e.keyClient(), "orderflow", "orders")
	pk := azcosmos.NewPartitionKeyString("cust-1")
	item := mustJSON(t, order{ID: "o1", CustomerID: "cust-1", Total: 10})

	cr, err := cc.CreateItem(ctx(), pk, item, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cr.RawResponse.StatusCode != 201 || cr.ETag == "" || cr.RequestCharge <= 0 || cr.ActivityID == "" || cr.SessionToken == nil {
		t.Fatalf("create response: status %d etag %q charge %v", cr.RawResponse.StatusCode, cr.ETag, cr.RequestCharge)
	}
	if _, err := cc.CreateItem(ctx(), pk, item, nil); status(t, err) != 409 {
		t.Fatalf("duplicate create: %v", err)
	}
	// Same id in another partition is a different item.
	if _, err := cc.CreateItem(ctx(), azcosmos.NewPartitionKeyString("cust-2"), mustJSON(t, order{ID: "o1", CustomerID: "cust-2"}), nil); err != nil {
		t.Fatalf("same id other partition: %v", err)
	}
	rr, err := cc.ReadItem(ctx(), pk, "o1", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(rr.Value, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"_rid", "_self", "_etag", "_ts", "_attachments"} {
		if _, ok := got[k]; !ok {
			t.Errorf("system property %s missing: %s", k, rr.Value)
		}
	}
	if got["_etag"] != string(rr.ETag) || !strings.HasPrefix(string(rr.ETag), `"`) {
		t.Fatalf("etag body %v header %q", got["_etag"], rr.ETag)
	}
	if _, err := cc.ReadItem(ctx(), pk, "missing", nil); status(t, err) != 404 {
		t.Fatalf("missing item: %v", err)
	}

	// Partition key mismatch between header and body.
	if _, err := cc.CreateItem(ctx(), pk, mustJSON(t, order{ID: "o9", CustomerID: "someone-else"}), nil); status(t, err) != 400 {
		t.Fatalf("pk mismatch: %v", err)
	}

	// Upsert: 200 on existing, 201 on new; content returned on request.
	ur, err := cc.UpsertItem(ctx(), pk, mustJSON(t, order{ID: "o1", CustomerID: "cust-1", Total: 11}), &azcosmos.ItemOptions{EnableContentResponseOnWrite: true})
	if err != nil || ur.RawResponse.StatusCode != 200 || !strings.Contains(string(ur.Value), `"total":11`) {
		t.Fatalf("upsert existing: %v %s", err, ur.Value)
	}
	ur2, err := cc.UpsertItem(ctx(), pk, mustJSON(t, order{ID: "o2", CustomerID: "cust-1", Total: 5}), nil)
	if err != nil || ur2.RawResponse.StatusCode != 201 {
		t.Fatalf("upsert new: %v", err)
	}

	// Upsert with If-Match: replace semantics when the item exists (stale → 412),
	// create semantics when it does not (the service ignores the condition then).
	if _, err := cc.UpsertItem(ctx(), pk, mustJSON(t, order{ID: "o2", CustomerID: "cust-1"}), &azcosmos.ItemOptions{IfMatchEtag: &rr.ETag}); status(t, err) != 412 {
		t.Fatalf("stale conditional upsert: %v", err)
	}
	if r, err := cc.UpsertItem(ctx(), pk, mustJSON(t, order{ID: "o3", CustomerID: "cust-1"}), &azcosmos.ItemOptions{IfMatchEtag: &rr.ETag}); err != nil || r.RawResponse.StatusCode != 201 {
		t.Fatalf("conditional upsert of a new item: %v", err)
	}

	// Replace with a stale etag: 412; with the current one: 200.
	stale := rr.ETag
	if _, err := cc.ReplaceItem(ctx(), pk, "o1", mustJSON(t, order{ID: "o1", CustomerID: "cust-1", Total: 12}), &azcosmos.ItemOptions{IfMatchEtag: &stale}); status(t, err) != 412 {
		t.Fatalf("stale replace: %v", err)
	}
	cur := ur.ETag
	rp, err := cc.ReplaceItem(ctx(), pk, "o1", mustJSON(t, order{ID: "o1", CustomerID: "cust-1", Total: 12}), &azcosmos.ItemOptions{IfMatchEtag: &cur})
	if err != nil {
		t.Fatalf("replace: %v", err)
	}
	if _, err := cc.ReplaceItem(ctx(), pk, "nope", mustJSON(t, order{ID: "nope", CustomerID: "cust-1"}), nil); status(t, err) != 404 {
		t.Fatalf("replace missing: %v", err)
	}

	// If-None-Match on reads (raw: the Go SDK has no option for it).
	resp, _ := e.do("GET", "/dbs/orderflow/colls/orders/docs/o1", nil, map[string]string{
		"x-ms-documentdb-partitionkey": `["cust-1"]`, "If-None-Match": string(rp.ETag)})
	if resp.StatusCode != 304 {
		t.Fatalf("If-None-Match current = %d, want 304", resp.StatusCode)
	}
	resp, _ = e.do("GET", "/dbs/orderflow/colls/orders/docs/o1", nil, map[string]string{
		"x-ms-documentdb-partitionkey": `["cust-1"]`, "If-None-Match": string(stale)})
	if resp.StatusCode != 200 {
		t.Fatalf("If-None-Match stale = %d, want 200", resp.StatusCode)
	}

	// Delete with a stale etag: 412; then delete; then 404.
	if _, err := cc.DeleteItem(ctx(), pk, "o1", &azcosmos.ItemOptions{IfMatchEtag: &stale}); status(t, err) != 412 {
		t.Fatalf("stale delete: %v", err)
	}
	if _, err := cc.DeleteItem(ctx(), pk, "o1", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.ReadItem(ctx(), pk, "o1", nil); status(t, err) != 404 {
		t.Fatalf("read deleted: %v", err)
	}
	if _, err := cc.DeleteItem(ctx(), pk, "o1", nil); status(t, err) != 404 {
		t.Fatalf("delete deleted: %v", err)
	}
}

func TestErrorBodyShape(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.do("GET", "/dbs/orderflow/colls/orders/docs/nope", nil, map[string]string{"x-ms-documentdb-partitionkey": `["x"]`})
	var eb struct{ Code, Message string }
	if err := json.Unmarshal(body, &eb); err != nil || resp.StatusCode != 404 || eb.Code != "NotFound" || !strings.Contains(eb.Message, "does not exist") {
		t.Fatalf("404 body: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("x-ms-activity-id") == "" || resp.Header.Get("x-ms-request-charge") == "" || resp.Header.Get("x-ms-substatus") == "" ||
		resp.Header.Get("x-ms-session-token") == "" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("error headers missing: %v", resp.Header)
	}
	resp, body = e.do("GET", "/dbs/nodb/colls/orders/docs/nope", nil, map[string]string{"x-ms-documentdb-partitionkey": `["x"]`})
	if resp.StatusCode != 404 || resp.Header.Get("x-ms-substatus") != "1003" {
		t.Fatalf("missing database: %d %s", resp.StatusCode, body)
	}
}

func TestPatch(t *testing.T) {
	e := newEnv(t, nil)
	cc := e.container(e.keyClient(), "orderflow", "orders")
	pk := azcosmos.NewPartitionKeyString("c1")
	doc := `{"id":"p1","customerId":"c1","total":10,"status":"new","lines":[{"sku":"a"},{"sku":"b"}],"meta":{"n":1}}`
	if _, err := cc.CreateItem(ctx(), pk, []byte(doc), nil); err != nil {
		t.Fatal(err)
	}
	var ops azcosmos.PatchOperations
	ops.AppendSet("/status", "paid")
	ops.AppendAdd("/lines/1", map[string]any{"sku": "x"})
	ops.AppendReplace("/meta/n", 2)
	ops.AppendRemove("/lines/0")
	ops.AppendIncrement("/total", 5)
	ops.AppendAdd("/note", "hi")
	r, err := cc.PatchItem(ctx(), pk, "p1", ops, &azcosmos.ItemOptions{EnableContentResponseOnWrite: true})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.Unmarshal(r.Value, &got)
	if got["status"] != "paid" || got["total"] != 15.0 || got["note"] != "hi" || got["meta"].(map[string]any)["n"] != 2.0 {
		t.Fatalf("patched: %s", r.Value)
	}
	if lines := fmt.Sprint(got["lines"]); lines != "[map[sku:x] map[sku:b]]" {
		t.Fatalf("lines = %s", lines)
	}

	// Condition failing: 412, nothing changed.
	var cond azcosmos.PatchOperations
	cond.SetCondition("FROM c WHERE c.status = 'new'")
	cond.AppendSet("/status", "shipped")
	if _, err := cc.PatchItem(ctx(), pk, "p1", cond, nil); status(t, err) != 412 {
		t.Fatalf("failing condition: %v", err)
	}
	var cond2 azcosmos.PatchOperations
	cond2.SetCondition("FROM c WHERE c.total > 10")
	cond2.AppendSet("/status", "shipped")
	if _, err := cc.PatchItem(ctx(), pk, "p1", cond2, nil); err != nil {
		t.Fatalf("holding condition: %v", err)
	}

	// Bad paths: replace/remove of a missing property, index out of range, bad syntax.
	for _, p := range []func(*azcosmos.PatchOperations){
		func(o *azcosmos.PatchOperations) { o.AppendReplace("/missing", 1) },
		func(o *azcosmos.PatchOperations) { o.AppendRemove("/nothing/here") },
		func(o *azcosmos.PatchOperations) { o.AppendAdd("/lines/9", 1) },
		func(o *azcosmos.PatchOperations) { o.AppendSet("status", 1) },
		func(o *azcosmos.PatchOperations) { o.AppendIncrement("/status", 1) },
		func(o *azcosmos.PatchOperations) { o.AppendSet("/customerId", "c2") },
	} {
		var o azcosmos.PatchOperations
		p(&o)
		if _, err := cc.PatchItem(ctx(), pk, "p1", o, nil); status(t, err) != 400 {
			t.Errorf("bad patch %+v: %v", o, err)
		}
	}
	// move (not in the Go SDK's builder) through the REST API.
	resp, body := e.do("PATCH", "/dbs/orderflow/colls/orders/docs/p1",
		[]byte(`{"operations":[{"op":"move","from":"/note","path":"/memo"}]}`),
		map[string]string{"x-ms-documentdb-partitionkey": `["c1"]`, "Content-Type": "application/json_patch+json"})
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"memo":"hi"`) || strings.Contains(string(body), `"note"`) {
		t.Fatalf("move: %d %s", resp.StatusCode, body)
	}
	if _, err := cc.PatchItem(ctx(), azcosmos.NewPartitionKeyString("c1"), "nobody", ops, nil); status(t, err) != 404 {
		t.Fatalf("patch missing: %v", err)
	}
}

func TestTransactionalBatch(t *testing.T) {
	e := newEnv(t, nil)
	cc := e.container(e.keyClient(), "orderflow", "orders")
	pk := azcosmos.NewPartitionKeyString("b1")
	if _, err := cc.CreateItem(ctx(), pk, mustJSON(t, order{ID: "existing", CustomerID: "b1", Total: 1}), nil); err != nil {
		t.Fatal(err)
	}
	b := cc.NewTransactionalBatch(pk)
	b.CreateItem(mustJSON(t, order{ID: "n1", CustomerID: "b1"}), nil)
	b.UpsertItem(mustJSON(t, order{ID: "n2", CustomerID: "b1"}), nil)
	b.ReadItem("existing", nil)
	var ops azcosmos.PatchOperations
	ops.AppendIncrement("/total", 1)
	b.PatchItem("existing", ops, nil)
	b.DeleteItem("n2", nil)
	resp, err := cc.ExecuteTransactionalBatch(ctx(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Success || len(resp.OperationResults) != 5 {
		t.Fatalf("batch: success %v results %d", resp.Success, len(resp.OperationResults))
	}
	want := []int32{201, 201, 200, 200, 204}
	for i, r := range resp.OperationResults {
		if r.StatusCode != want[i] {
			t.Errorf("op %d status %d want %d", i, r.StatusCode, want[i])
		}
	}
	if !strings.Contains(string(resp.OperationResults[2].ResourceBody), `"id":"existing"`) {
		t.Errorf("read result body: %s", resp.OperationResults[2].ResourceBody)
	}
	rr, err := cc.ReadItem(ctx(), pk, "existing", nil)
	if err != nil || !strings.Contains(string(rr.Value), `"total":2`) {
		t.Fatalf("patched in batch: %v %s", err, rr.Value)
	}
	if _, err := cc.ReadItem(ctx(), pk, "n2", nil); status(t, err) != 404 {
		t.Fatalf("n2 should be deleted: %v", err)
	}

	// Failing batch: the conflict in op 1 rolls back op 0.
	fb := cc.NewTransactionalBatch(pk)
	fb.CreateItem(mustJSON(t, order{ID: "atomic", CustomerID: "b1"}), nil)
	fb.CreateItem(mustJSON(t, order{ID: "existing", CustomerID: "b1"}), nil)
	fb.DeleteItem("n1", nil)
	fr, err := cc.ExecuteTransactionalBatch(ctx(), fb, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fr.Success || fr.RawResponse.StatusCode != http.StatusMultiStatus {
		t.Fatalf("failing batch: success %v status %d", fr.Success, fr.RawResponse.StatusCode)
	}
	if got := []int32{fr.OperationResults[0].StatusCode, fr.OperationResults[1].StatusCode, fr.OperationResults[2].StatusCode}; fmt.Sprint(got) != "[424 409 424]" {
		t.Fatalf("failing batch statuses %v", got)
	}
	if _, err := cc.ReadItem(ctx(), pk, "atomic", nil); status(t, err) != 404 {
		t.Fatalf("op before the failure was applied: %v", err)
	}
	if _, err := cc.ReadItem(ctx(), pk, "n1", nil); err != nil {
		t.Fatalf("op after the failure was applied: %v", err)
	}
	// A binary (HybridRow, .NET) batch body gets a clear 400.
	hr, body := e.do("POST", "/dbs/orderflow/colls/orders/docs", []byte{0x81, 0x02, 0x03}, map[string]string{
		"x-ms-cosmos-is-batch-request": "True", "x-ms-documentdb-partitionkey": `["b1"]`})
	if hr.StatusCode != 400 || !strings.Contains(string(body), "HybridRow") {
		t.Fatalf("binary batch: %d %s", hr.StatusCode, body)
	}
}

func seedOrders(t *testing.T, cc *azcosmos.ContainerClient, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		o := order{ID: fmt.Sprintf("o%03d", i), CustomerID: fmt.Sprintf("c%d", i%5), Total: float64(i % 7), Status: []string{"new", "paid", "shipped"}[i%3]}
		if _, err := cc.CreateItem(ctx(), azcosmos.NewPartitionKeyString(o.CustomerID), mustJSON(t, o), nil); err != nil {
			t.Fatal(err)
		}
	}
}

func queryAll(t *testing.T, cc *azcosmos.ContainerClient, q string, pk azcosmos.PartitionKey, o *azcosmos.QueryOptions) ([]json.RawMessage, int) {
	t.Helper()
	pager := cc.NewQueryItemsPager(q, pk, o)
	var out []json.RawMessage
	pages := 0
	for pager.More() {
		page, err := pager.NextPage(ctx())
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		pages++
		for _, it := range page.Items {
			out = append(out, it)
		}
	}
	return out, pages
}

func TestQueries(t *testing.T) {
	e := newEnv(t, nil)
	cc := e.container(e.keyClient(), "orderflow", "orders")
	seedOrders(t, cc, 250)

	// Paging through a cross-partition query with continuation tokens.
	items, pages := queryAll(t, cc, "SELECT * FROM c", azcosmos.NewPartitionKey(), &azcosmos.QueryOptions{PageSizeHint: 40})
	if len(items) != 250 || pages != 7 {
		t.Fatalf("paged cross-partition: %d items in %d pages", len(items), pages)
	}
	seen := map[string]bool{}
	for _, it := range items {
		var o order
		_ = json.Unmarshal(it, &o)
		if seen[o.ID] {
			t.Fatalf("duplicate %s across pages", o.ID)
		}
		seen[o.ID] = true
	}

	// Query metrics when asked for (the Go SDK always asks).
	qp := cc.NewQueryItemsPager("SELECT * FROM c WHERE c.total > 3", azcosmos.NewPartitionKey(), nil)
	qpage, err := qp.NextPage(ctx())
	if err != nil || qpage.QueryMetrics == nil || !strings.Contains(*qpage.QueryMetrics, "retrievedDocumentCount=250") {
		t.Fatalf("query metrics: %v %v", err, qpage.QueryMetrics)
	}

	// Single partition with parameters.
	items, _ = queryAll(t, cc, "SELECT c.id, c.total AS amount FROM c WHERE c.status = @s", azcosmos.NewPartitionKeyString("c1"),
		&azcosmos.QueryOptions{QueryParameters: []azcosmos.QueryParameter{{Name: "@s", Value: "paid"}}})
	for _, it := range items {
		var m map[string]any
		_ = json.Unmarshal(it, &m)
		if len(m) != 2 || m["amount"] == nil {
			t.Fatalf("projection: %s", it)
		}
	}
	if len(items) != 17 { // ids ≡1 mod 5 and ≡1 mod 3 below 250: i ≡ 1 mod 15
		t.Fatalf("single-partition filter returned %d", len(items))
	}

	// ORDER BY several fields across partitions.
	items, _ = queryAll(t, cc, "SELECT VALUE {\"t\": c.total, \"id\": c.id} FROM c WHERE c.total >= 5 ORDER BY c.total DESC, c.id ASC", azcosmos.NewPartitionKey(), nil)
	var prev struct {
		T  float64 `json:"t"`
		ID string  `json:"id"`
	}
	for i, it := range items {
		var cur = prev
		_ = json.Unmarshal(it, &cur)
		if i > 0 && (cur.T > prev.T || cur.T == prev.T && cur.ID <= prev.ID) {
			t.Fatalf("order violated at %d: %+v after %+v", i, cur, prev)
		}
		prev = cur
	}
	if len(items) != 70 {
		t.Fatalf("ORDER BY returned %d", len(items))
	}

	// Aggregates, TOP, OFFSET LIMIT.
	items, _ = queryAll(t, cc, "SELECT VALUE COUNT(1) FROM c", azcosmos.NewPartitionKey(), nil)
	if len(items) != 1 || string(items[0]) != "250" {
		t.Fatalf("COUNT: %s", items)
	}
	items, _ = queryAll(t, cc, "SELECT COUNT(1) FROM c WHERE c.customerId = 'c0'", azcosmos.NewPartitionKeyString("c0"), nil)
	if len(items) != 1 || string(items[0]) != `{"$1":50}` {
		t.Fatalf("COUNT without VALUE: %s", items)
	}
	items, _ = queryAll(t, cc, "SELECT TOP 3 VALUE c.id FROM c ORDER BY c.id DESC", azcosmos.NewPartitionKey(), nil)
	if fmt.Sprint(rawStrings(items)) != `["o249" "o248" "o247"]` {
		t.Fatalf("TOP: %s", rawStrings(items))
	}
	items, _ = queryAll(t, cc, "SELECT VALUE c.id FROM c ORDER BY c.id OFFSET 10 LIMIT 2", azcosmos.NewPartitionKey(), nil)
	if fmt.Sprint(rawStrings(items)) != `["o010" "o011"]` {
		t.Fatalf("OFFSET LIMIT: %s", rawStrings(items))
	}

	// JOIN over an array inside each item.
	if _, err := cc.UpsertItem(ctx(), azcosmos.NewPartitionKeyString("j"), []byte(`{"id":"j1","customerId":"j","lines":[{"sku":"a","qty":2},{"sku":"b","qty":5}]}`), nil); err != nil {
		t.Fatal(err)
	}
	items, _ = queryAll(t, cc, "SELECT c.id, l.sku FROM c JOIN l IN c.lines WHERE l.qty > 1 ORDER BY l.sku DESC", azcosmos.NewPartitionKeyString("j"), nil)
	if fmt.Sprint(rawStrings(items)) != `[{"id":"j1","sku":"b"} {"id":"j1","sku":"a"}]` {
		t.Fatalf("JOIN: %s", rawStrings(items))
	}

	items, _ = queryAll(t, cc, "SELECT VALUE c.id FROM c WHERE EXISTS(SELECT VALUE l FROM l IN c.lines WHERE l.qty >= @q)", azcosmos.NewPartitionKey(),
		&azcosmos.QueryOptions{QueryParameters: []azcosmos.QueryParameter{{Name: "@q", Value: 5}}})
	if fmt.Sprint(rawStrings(items)) != `["j1"]` {
		t.Fatalf("EXISTS: %s", rawStrings(items))
	}

	// Bad syntax: 400 naming the position.
	pager := cc.NewQueryItemsPager("SELECT * FORM c", azcosmos.NewPartitionKey(), nil)
	_, err = pager.NextPage(ctx())
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 400 || !strings.Contains(err.Error(), "near 'FORM' at position 9") || !strings.Contains(err.Error(), `SC1001`) {
		t.Fatalf("bad query: %v", err)
	}
}

func rawStrings(items []json.RawMessage) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = string(it)
	}
	return out
}

func TestQueryProtocol(t *testing.T) {
	e := newEnv(t, nil)
	cc := e.container(e.keyClient(), "orderflow", "orders")
	seedOrders(t, cc, 30)
	qh := map[string]string{"Content-Type": "application/query+json", "x-ms-documentdb-isquery": "True",
		"x-ms-documentdb-query-enablecrosspartition": "True", "x-ms-max-item-count": "10"}
	body := []byte(`{"query":"SELECT * FROM c ORDER BY c.id","parameters":[]}`)
	var ids []string
	tokens := map[string]bool{}
	for i := 0; ; i++ {
		resp, b := e.do("POST", "/dbs/orderflow/colls/orders/docs", body, qh)
		if resp.StatusCode != 200 {
			t.Fatalf("query page %d: %d %s", i, resp.StatusCode, b)
		}
		var page struct {
			Rid   string  `json:"_rid"`
			Docs  []order `json:"Documents"`
			Count int     `json:"_count"`
		}
		if err := json.Unmarshal(b, &page); err != nil || page.Rid == "" || page.Count != len(page.Docs) ||
			resp.Header.Get("x-ms-item-count") != fmt.Sprint(page.Count) {
			t.Fatalf("page shape: %s %v", b, err)
		}
		for _, d := range page.Docs {
			ids = append(ids, d.ID)
		}
		tok := resp.Header.Get("x-ms-continuation")
		if tok == "" {
			break
		}
		if tokens[tok] {
			t.Fatalf("continuation repeated: %s", tok)
		}
		tokens[tok] = true
		qh["x-ms-continuation"] = tok
	}
	if len(ids) != 30 || ids[0] != "o000" || ids[29] != "o029" {
		t.Fatalf("paged ids: %v", ids)
	}
	// A token is bound to its query.
	qh["x-ms-continuation"] = "+RID:~garbage"
	if resp, _ := e.do("POST", "/dbs/orderflow/colls/orders/docs", body, qh); resp.StatusCode != 400 {
		t.Fatalf("bad continuation = %d", resp.StatusCode)
	}
	delete(qh, "x-ms-continuation")

	// Query plan requests get a pass-through plan over the single range.
	ph := map[string]string{"Content-Type": "application/query+json", "x-ms-cosmos-is-query-plan-request": "True",
		"x-ms-cosmos-supported-query-features": "Aggregate, Distinct, MultipleOrderBy, OffsetAndLimit, OrderBy, Top"}
	resp, b := e.do("POST", "/dbs/orderflow/colls/orders/docs", []byte(`{"query":"SELECT VALUE COUNT(1) FROM c"}`), ph)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"queryRanges":[{"isMaxInclusive":false,"isMinInclusive":true,"max":"FF","min":""}]`) ||
		!strings.Contains(string(b), `"partitionedQueryExecutionInfoVersion":2`) {
		t.Fatalf("query plan: %d %s", resp.StatusCode, b)
	}

	// After the plan, SDKs send the query to the range by id: all of it is in "0".
	rh := map[string]string{"Content-Type": "application/query+json", "x-ms-documentdb-isquery": "True",
		"x-ms-documentdb-partitionkeyrangeid": "0", "x-ms-max-item-count": "-1"}
	resp, b = e.do("POST", "/dbs/orderflow/colls/orders/docs", []byte(`{"query":"SELECT VALUE COUNT(1) FROM c"}`), rh)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"Documents":[30]`) {
		t.Fatalf("query on range 0: %d %s", resp.StatusCode, b)
	}

	// Read feed with paging.
	resp, _ = e.do("GET", "/dbs/orderflow/colls/orders/docs", nil, map[string]string{"x-ms-max-item-count": "25"})
	if resp.StatusCode != 200 || resp.Header.Get("x-ms-item-count") != "25" || resp.Header.Get("x-ms-continuation") == "" {
		t.Fatalf("read feed: %d %v", resp.StatusCode, resp.Header)
	}
	resp, b = e.do("GET", "/dbs/orderflow/colls/orders/docs", nil, map[string]string{"x-ms-max-item-count": "25", "x-ms-continuation": resp.Header.Get("x-ms-continuation")})
	if resp.StatusCode != 200 || resp.Header.Get("x-ms-item-count") != "5" || resp.Header.Get("x-ms-continuation") != "" {
		t.Fatalf("read feed page 2: %d %v %s", resp.StatusCode, resp.Header, b)
	}
}

func TestReadMany(t *testing.T) {
	e := newEnv(t, nil)
	cc := e.container(e.keyClient(), "orderflow", "orders")
	seedOrders(t, cc, 10)
	var ids []azcosmos.ItemIdentity
	for _, i := range []int{1, 3, 8} {
		ids = append(ids, azcosmos.ItemIdentity{ID: fmt.Sprintf("o%03d", i), PartitionKey: azcosmos.NewPartitionKeyString(fmt.Sprintf("c%d", i%5))})
	}
	resp, err := cc.ReadManyItems(ctx(), ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Items) != 3 {
		t.Fatalf("read many: %d items", len(resp.Items))
	}
}

func TestConcurrentClients(t *testing.T) {
	e := newEnv(t, nil)
	cc := e.container(e.keyClient(), "orderflow", "orders")
	const writers, each = 8, 25
	errs := make(chan error, writers*2)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(2)
		go func(w int) { // writer: creates, then updates each item twice (upsert and patch)
			defer wg.Done()
			pk := azcosmos.NewPartitionKeyString(fmt.Sprintf("w%d", w%3))
			for i := 0; i < each; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				body := fmt.Sprintf(`{"id":%q,"customerId":"w%d","n":0}`, id, w%3)
				if _, err := cc.CreateItem(ctx(), pk, []byte(body), nil); err != nil {
					errs <- err
					return
				}
				if _, err := cc.UpsertItem(ctx(), pk, []byte(strings.Replace(body, `"n":0`, `"n":1`, 1)), nil); err != nil {
					errs <- err
					return
				}
				var ops azcosmos.PatchOperations
				ops.AppendIncrement("/n", 1)
				if _, err := cc.PatchItem(ctx(), pk, id, ops, nil); err != nil {
					errs <- err
					return
				}
			}
		}(w)
		go func() { // reader: cross-partition queries while writes go on
			defer wg.Done()
			for i := 0; i < 10; i++ {
				pager := cc.NewQueryItemsPager("SELECT VALUE COUNT(1) FROM c WHERE c.n >= 0", azcosmos.NewPartitionKey(), nil)
				if _, err := pager.NextPage(ctx()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	items, _ := queryAll(t, cc, "SELECT VALUE COUNT(1) FROM c WHERE c.n = 2", azcosmos.NewPartitionKey(), nil)
	if string(items[0]) != fmt.Sprint(writers*each) {
		t.Fatalf("every item updated twice: %s of %d", items[0], writers*each)
	}
}
