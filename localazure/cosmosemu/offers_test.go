package cosmosemu

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

func TestThroughput(t *testing.T) {
	e := newEnv(t, nil)
	c := e.keyClient()
	cc := e.container(c, "orderflow", "orders")
	r, err := cc.ReadThroughput(ctx(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := r.ThroughputProperties.ManualThroughput(); !ok || n != 400 {
		t.Fatalf("default throughput: %v %v", n, ok)
	}
	if _, err := cc.ReplaceThroughput(ctx(), azcosmos.NewManualThroughputProperties(1000), nil); err != nil {
		t.Fatal(err)
	}
	r, _ = cc.ReadThroughput(ctx(), nil)
	if n, _ := r.ThroughputProperties.ManualThroughput(); n != 1000 {
		t.Fatalf("replaced throughput: %v", n)
	}
	// Autoscale at creation; a database without shared throughput has no offer.
	auto := azcosmos.NewAutoscaleThroughputProperties(4000)
	if _, err := c.CreateDatabase(ctx(), azcosmos.DatabaseProperties{ID: "shared"}, &azcosmos.CreateDatabaseOptions{ThroughputProperties: &auto}); err != nil {
		t.Fatal(err)
	}
	db, _ := c.NewDatabase("shared")
	dr, err := db.ReadThroughput(ctx(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := dr.ThroughputProperties.AutoscaleMaxThroughput(); !ok || n != 4000 {
		t.Fatalf("autoscale: %v %v", n, ok)
	}
	plain, _ := c.NewDatabase("orderflow")
	if _, err := plain.ReadThroughput(ctx(), nil); status(t, err) != 404 {
		t.Fatalf("database without throughput: %v", err)
	}
	// Changing throughput is control plane: refused to Entra principals.
	tc := e.container(e.tokenClient(oidContributor), "orderflow", "orders")
	if _, err := tc.ReadThroughput(ctx(), nil); err != nil {
		t.Fatalf("token read throughput: %v", err)
	}
	if _, err := tc.ReplaceThroughput(ctx(), azcosmos.NewManualThroughputProperties(500), nil); status(t, err) != 403 {
		t.Fatalf("token replace throughput: %v", err)
	}
}
