package cosmosemu

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

func TestStrictIndexing(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.StrictIndexing = true
		o.CompositeIndexes = map[string][][]string{"orderflow/orders": {{"/status", "/total DESC"}}}
	})
	cc := e.container(e.keyClient(), "orderflow", "orders")
	seedOrders(t, cc, 10)
	run := func(q string) error {
		_, err := cc.NewQueryItemsPager(q, azcosmos.NewPartitionKey(), nil).NextPage(ctx())
		return err
	}
	for _, q := range []string{
		"SELECT * FROM c ORDER BY c.status, c.total DESC", // as declared
		"SELECT * FROM c ORDER BY c.status DESC, c.total", // all reversed
		"SELECT * FROM c ORDER BY c.total",                // one key needs no composite index
	} {
		if err := run(q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	for _, q := range []string{
		"SELECT * FROM c ORDER BY c.status, c.total",      // mixed directions
		"SELECT * FROM c ORDER BY c.total DESC, c.status", // other order
		"SELECT * FROM c ORDER BY c.status, c.id",         // not indexed
	} {
		if err := run(q); status(t, err) != 400 {
			t.Errorf("%s: want 400, got %v", q, err)
		}
	}
	props, err := cc.Read(ctx(), nil)
	if err != nil || len(props.ContainerProperties.IndexingPolicy.CompositeIndexes) != 1 {
		t.Fatalf("indexing policy: %v %+v", err, props.ContainerProperties.IndexingPolicy)
	}
}
