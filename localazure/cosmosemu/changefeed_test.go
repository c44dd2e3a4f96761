package cosmosemu

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

func TestChangeFeed(t *testing.T) {
	e := newEnv(t, nil)
	cc := e.container(e.keyClient(), "orderflow", "orders")
	seedOrders(t, cc, 12)

	ranges, err := cc.ReadFeedRanges(ctx(), nil)
	if err != nil || len(ranges) != 1 {
		t.Fatalf("feed ranges: %v %v", ranges, err)
	}
	// From the beginning, in pages of 5, following the continuation.
	var ids []string
	var cont *string
	for i := 0; i < 10; i++ {
		resp, err := cc.ReadChangeFeed(ctx(), &azcosmos.ChangeFeedOptions{MaxItemCount: 5, Continuation: cont, FeedRange: feedRange(ranges, cont)})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range resp.Items {
			var o order
			_ = json.Unmarshal(it, &o)
			ids = append(ids, o.ID)
		}
		tok, err := resp.GetCompositeContinuationToken()
		if err != nil {
			t.Fatal(err)
		}
		cont = &tok
		if len(resp.Items) == 0 {
			break
		}
	}
	if len(ids) != 12 || ids[0] != "o000" || ids[11] != "o011" {
		t.Fatalf("change feed from the beginning: %v", ids)
	}
	// Nothing new: no items.
	resp, err := cc.ReadChangeFeed(ctx(), &azcosmos.ChangeFeedOptions{Continuation: cont})
	if err != nil || len(resp.Items) != 0 {
		t.Fatalf("no changes: %v %d", err, len(resp.Items))
	}
	// An update moves an item to the end; it appears once, in its latest version.
	if _, err := cc.UpsertItem(ctx(), azcosmos.NewPartitionKeyString("c3"), mustJSON(t, order{ID: "o003", CustomerID: "c3", Total: 99}), nil); err != nil {
		t.Fatal(err)
	}
	resp, err = cc.ReadChangeFeed(ctx(), &azcosmos.ChangeFeedOptions{Continuation: cont})
	if err != nil || len(resp.Items) != 1 {
		t.Fatalf("after update: %v %d", err, len(resp.Items))
	}
	var o map[string]any
	_ = json.Unmarshal(resp.Items[0], &o)
	if o["id"] != "o003" || o["total"] != 99.0 || o["_lsn"] == nil {
		t.Fatalf("changed item: %s", resp.Items[0])
	}
	// One logical partition only.
	pk := azcosmos.NewPartitionKeyString("c1")
	resp, err = cc.ReadChangeFeed(ctx(), &azcosmos.ChangeFeedOptions{PartitionKey: &pk, FeedRange: &ranges[0]})
	if err != nil || len(resp.Items) != 3 {
		t.Fatalf("partition change feed: %v %d", err, len(resp.Items))
	}

	// Raw protocol: "*" starts from now (304), an unknown mode is refused.
	r, _ := e.do("GET", "/dbs/orderflow/colls/orders/docs", nil, map[string]string{"A-IM": "Incremental feed", "If-None-Match": "*"})
	if r.StatusCode != 304 || r.Header.Get("Etag") == "" {
		t.Fatalf("from now: %d %v", r.StatusCode, r.Header)
	}
	r, _ = e.do("GET", "/dbs/orderflow/colls/orders/docs", nil, map[string]string{"A-IM": "Full-Fidelity Feed"})
	if r.StatusCode != 400 {
		t.Fatalf("full fidelity: %d", r.StatusCode)
	}
	_ = fmt.Sprint()
}

func feedRange(r []azcosmos.FeedRange, cont *string) *azcosmos.FeedRange {
	if cont != nil {
		return nil
	}
	return &r[0]
}
