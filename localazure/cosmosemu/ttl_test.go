package cosmosemu

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

func TestTimeToLive(t *testing.T) {
	var offset atomic.Int64 // seconds the server's clock is ahead
	e := newEnv(t, nil)
	e.s.setClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load()) * time.Second) })
	c := e.keyClient()
	db, _ := c.NewDatabase("orderflow")
	ttl := int32(60)
	if _, err := db.CreateContainer(ctx(), azcosmos.ContainerProperties{ID: "sessions", DefaultTimeToLive: &ttl,
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/pk"}}}, nil); err != nil {
		t.Fatal(err)
	}
	cc, _ := db.NewContainer("sessions")
	pk := azcosmos.NewPartitionKeyString("p")
	for _, body := range []string{`{"id":"default","pk":"p"}`, `{"id":"forever","pk":"p","ttl":-1}`, `{"id":"short","pk":"p","ttl":10}`} {
		if _, err := cc.CreateItem(ctx(), pk, []byte(body), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cc.CreateItem(ctx(), pk, []byte(`{"id":"bad","pk":"p","ttl":0}`), nil); status(t, err) != 400 {
		t.Fatalf("ttl 0: %v", err)
	}
	count := func() int {
		items, _ := queryAll(t, cc, "SELECT VALUE c.id FROM c", pk, nil)
		return len(items)
	}
	offset.Store(11)
	if _, err := cc.ReadItem(ctx(), pk, "short", nil); status(t, err) != 404 {
		t.Fatalf("expired item read: %v", err)
	}
	if n := count(); n != 2 {
		t.Fatalf("after 11s: %d items", n)
	}
	offset.Store(61)
	if _, err := cc.ReadItem(ctx(), pk, "default", nil); status(t, err) != 404 {
		t.Fatalf("default ttl: %v", err)
	}
	if _, err := cc.ReadItem(ctx(), pk, "forever", nil); err != nil {
		t.Fatalf("ttl -1: %v", err)
	}
	// The id of an expired item is free again.
	if _, err := cc.CreateItem(ctx(), pk, []byte(`{"id":"short","pk":"p"}`), nil); err != nil {
		t.Fatalf("recreate expired: %v", err)
	}
	// Turning TTL off on the container stops expiry; what expired stays gone.
	props, _ := cc.Read(ctx(), nil)
	p := *props.ContainerProperties
	p.DefaultTimeToLive = nil
	if _, err := cc.Replace(ctx(), p, nil); err != nil {
		t.Fatal(err)
	}
	offset.Store(600)
	if n := count(); n != 2 {
		t.Fatalf("TTL off: %d items", n)
	}
}
