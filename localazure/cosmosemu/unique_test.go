package cosmosemu

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

func TestUniqueKeys(t *testing.T) {
	e := newEnv(t, nil)
	db, _ := e.keyClient().NewDatabase("orderflow")
	props := azcosmos.ContainerProperties{ID: "users",
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/tenant"}},
		UniqueKeyPolicy:        &azcosmos.UniqueKeyPolicy{UniqueKeys: []azcosmos.UniqueKey{{Paths: []string{"/email"}}}}}
	if _, err := db.CreateContainer(ctx(), props, nil); err != nil {
		t.Fatal(err)
	}
	cc, _ := db.NewContainer("users")
	t1, t2 := azcosmos.NewPartitionKeyString("t1"), azcosmos.NewPartitionKeyString("t2")
	if _, err := cc.CreateItem(ctx(), t1, []byte(`{"id":"1","tenant":"t1","email":"a@x"}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.CreateItem(ctx(), t1, []byte(`{"id":"2","tenant":"t1","email":"a@x"}`), nil); status(t, err) != 409 {
		t.Fatalf("duplicate unique key: %v", err)
	}
	// Uniqueness is per logical partition.
	if _, err := cc.CreateItem(ctx(), t2, []byte(`{"id":"2","tenant":"t2","email":"a@x"}`), nil); err != nil {
		t.Fatalf("other partition: %v", err)
	}
	// Replacing an item with its own value is fine; taking another's is not.
	if _, err := cc.UpsertItem(ctx(), t1, []byte(`{"id":"1","tenant":"t1","email":"a@x","n":2}`), nil); err != nil {
		t.Fatalf("self upsert: %v", err)
	}
	if _, err := cc.CreateItem(ctx(), t1, []byte(`{"id":"3","tenant":"t1","email":"b@x"}`), nil); err != nil {
		t.Fatal(err)
	}
	var ops azcosmos.PatchOperations
	ops.AppendSet("/email", "a@x")
	if _, err := cc.PatchItem(ctx(), t1, "3", ops, nil); status(t, err) != 409 {
		t.Fatalf("patch into a taken value: %v", err)
	}
	// In a batch, a delete frees the value for a later create.
	b := cc.NewTransactionalBatch(t1)
	b.DeleteItem("1", nil)
	b.CreateItem([]byte(`{"id":"4","tenant":"t1","email":"a@x"}`), nil)
	r, err := cc.ExecuteTransactionalBatch(ctx(), b, nil)
	if err != nil || !r.Success {
		t.Fatalf("batch delete+create: %v %+v", err, r.OperationResults)
	}
	b = cc.NewTransactionalBatch(t1)
	b.CreateItem([]byte(`{"id":"5","tenant":"t1","email":"c@x"}`), nil)
	b.CreateItem([]byte(`{"id":"6","tenant":"t1","email":"c@x"}`), nil)
	r, err = cc.ExecuteTransactionalBatch(ctx(), b, nil)
	if err != nil || r.Success || r.OperationResults[1].StatusCode != 409 {
		t.Fatalf("batch with a unique violation: %v %+v", err, r.OperationResults)
	}
	// Missing values count as null: only one item per partition may lack the key.
	if _, err := cc.CreateItem(ctx(), t2, []byte(`{"id":"7","tenant":"t2"}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.CreateItem(ctx(), t2, []byte(`{"id":"8","tenant":"t2"}`), nil); status(t, err) != 409 {
		t.Fatalf("second item without the key: %v", err)
	}
}
