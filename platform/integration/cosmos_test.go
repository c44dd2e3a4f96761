package integration

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/fault"
	"github.com/contoso/orderflow/platform/cosmos"
	"github.com/contoso/orderflow/platform/orders"
)

func newOrder(t *testing.T, customer string, created time.Time) *orders.Order {
	t.Helper()
	o, err := orders.NewOrder(orders.PlaceOrderInput{CustomerID: customer, Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: 1}}}, orders.DefaultCatalog(), created)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestCosmosOrderStore(t *testing.T) {
	fe, _ := clientsFor(t, "frontend")
	be, _ := clientsFor(t, "backend")
	front, back := cosmos.New(fe.Orders), cosmos.New(be.Orders)
	ctx := testCtx(t)
	customer := "cust-" + orders.NewID()[:8]

	if err := front.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	// Create five orders a second apart; paging returns them newest first.
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	var created []*orders.Order
	for i := 0; i < 5; i++ {
		o := newOrder(t, customer, base.Add(time.Duration(i)*time.Second))
		if err := front.Create(ctx, o); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if o.ETag == "" {
			t.Fatal("Create set no etag")
		}
		created = append(created, o)
	}
	if err := front.Create(ctx, created[0].Clone()); orders.ErrorCode(err) != orders.ECONFLICT {
		t.Errorf("duplicate Create: %v, want conflict", err)
	}

	got, err := front.GetByCustomer(ctx, customer, created[2].ID)
	if err != nil || got.ID != created[2].ID || got.Total != 1200 || !got.CreatedAt.Equal(created[2].CreatedAt) || got.ETag == "" {
		t.Fatalf("GetByCustomer = %+v, %v", got, err)
	}
	if _, err := front.GetByCustomer(ctx, "someone-else", created[2].ID); orders.ErrorCode(err) != orders.ENOTFOUND {
		t.Errorf("other customer's order: %v, want not found", err)
	}
	// The backend finds an order by ID alone (cross-partition).
	if got, err := back.Get(ctx, created[3].ID); err != nil || got.CustomerID != customer {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if _, err := back.Get(ctx, "no-such-order"); orders.ErrorCode(err) != orders.ENOTFOUND {
		t.Errorf("Get missing: %v", err)
	}

	var ids []string
	cont := ""
	pages := 0
	for {
		page, err := front.ListByCustomer(ctx, customer, 2, cont)
		if err != nil {
			t.Fatalf("ListByCustomer page %d: %v", pages, err)
		}
		pages++
		for _, o := range page.Orders {
			ids = append(ids, o.ID)
		}
		if page.Continuation == "" || pages > 5 {
			break
		}
		cont = page.Continuation
	}
	want := []string{created[4].ID, created[3].ID, created[2].ID, created[1].ID, created[0].ID}
	if fmt.Sprint(ids) != fmt.Sprint(want) || pages < 3 {
		t.Errorf("paged list = %v in %d pages, want %v newest first in 3", ids, pages, want)
	}

	// Optimistic concurrency: a stale etag is refused, a fresh one wins.
	o := created[0]
	stale := o.Clone()
	if err := front.MarkPublished(ctx, o); err != nil || !o.Published || o.ETag == stale.ETag {
		t.Fatalf("MarkPublished: %v %+v", err, o)
	}
	ref := orders.ReceiptRef{Blob: orders.ReceiptBlobName(o.ID), KeyVersion: "v1"}
	if err := back.MarkCompleted(ctx, stale, ref); orders.ErrorCode(err) != orders.EPRECONDITION {
		t.Fatalf("MarkCompleted with a stale etag: %v, want precondition failed", err)
	}
	if err := back.MarkCompleted(ctx, o, ref); err != nil {
		t.Fatalf("MarkCompleted: %v", err)
	}
	got, _ = front.GetByCustomer(ctx, customer, o.ID)
	if got.Status != orders.StatusCompleted || got.ReceiptKeyVersion != "v1" || !got.Published {
		t.Errorf("after MarkCompleted: %+v", got)
	}

	if err := front.AddAttachment(ctx, created[1], orders.Attachment{Name: "a.pdf", ContentType: "application/pdf", Size: 3}); err != nil {
		t.Fatal(err)
	}
	got, _ = front.GetByCustomer(ctx, customer, created[1].ID)
	if len(got.Attachments) != 1 || got.Attachments[0].Name != "a.pdf" {
		t.Errorf("attachments = %+v", got.Attachments)
	}

	// The reconciler's list: Pending, unpublished, old enough; not the completed one.
	list, err := front.ListUnpublished(ctx, time.Now().Add(-30*time.Minute), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var mine []string
	for _, u := range list {
		if u.CustomerID == customer {
			mine = append(mine, u.ID)
		}
	}
	wantUnpub := []string{created[1].ID, created[2].ID, created[3].ID, created[4].ID}
	sort.Strings(mine)
	sort.Strings(wantUnpub)
	if fmt.Sprint(mine) != fmt.Sprint(wantUnpub) {
		t.Errorf("unpublished = %v, want %v", mine, wantUnpub)
	}
	if list, _ := front.ListUnpublished(ctx, base, 1000); containsCustomer(list, customer) {
		t.Error("orders younger than the cut-off were listed")
	}
}

func containsCustomer(list []*orders.Order, customer string) bool {
	for _, o := range list {
		if o.CustomerID == customer {
			return true
		}
	}
	return false
}

// An update of an order the caller just wrote goes straight to the conditional
// replace: with every point read of that order failing, MarkPublished after Create
// still works. When someone else wrote in between, the replace gets 412 and the store
// re-reads, so neither write is lost.
func TestCosmosUpdateTriesTheKnownEtagFirst(t *testing.T) {
	fe, _ := clientsFor(t, "frontend")
	be, _ := clientsFor(t, "backend")
	front, back := cosmos.New(fe.Orders), cosmos.New(be.Orders)
	ctx := testCtx(t)
	st := local.Require(t)

	o := newOrder(t, "cust-"+orders.NewID()[:8], time.Now())
	if err := front.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	readsFail := []fault.Rule{{Service: "cosmos", Operation: "read", Path: "/docs/" + o.ID, Fault: "unavailable", For: "1m"}}
	if err := st.Faults().Set("runtime", readsFail); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Faults().Set("runtime", nil) })
	if err := front.MarkPublished(ctx, o); err != nil || !o.Published {
		t.Fatalf("MarkPublished right after Create, with reads of the order failing: %v", err)
	}
	if n := st.Faults().Fired("runtime"); n != 0 {
		t.Fatalf("MarkPublished read the order %d times; want none", n)
	}
	// The fault does fire on a read, so the check above can fail.
	if _, err := front.GetByCustomer(ctx, o.CustomerID, o.ID); err == nil || st.Faults().Fired("runtime") == 0 {
		t.Fatalf("a read with the fault set: %v, fired %d", err, st.Faults().Fired("runtime"))
	}
	if err := st.Faults().Set("runtime", nil); err != nil {
		t.Fatal(err)
	}

	// A stale copy: the backend completes the order, then the frontend records an
	// attachment on the copy it had. The replace is refused, the store re-reads, and
	// the stored order has both.
	stale := o.Clone()
	cur, err := back.GetByCustomer(ctx, o.CustomerID, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.MarkCompleted(ctx, cur, orders.ReceiptRef{Blob: orders.ReceiptBlobName(o.ID), KeyVersion: "v1"}); err != nil {
		t.Fatal(err)
	}
	if err := front.AddAttachment(ctx, stale, orders.Attachment{Name: "late.pdf", ContentType: "application/pdf", Size: 1}); err != nil {
		t.Fatalf("AddAttachment on a stale copy: %v", err)
	}
	got, err := front.GetByCustomer(ctx, o.CustomerID, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != orders.StatusCompleted || len(got.Attachments) != 1 || !got.Published {
		t.Errorf("after a completion and a stale attachment: status %s, attachments %+v, published %v", got.Status, got.Attachments, got.Published)
	}
}
