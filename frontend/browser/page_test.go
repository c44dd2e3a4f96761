// Package browser tests the page in headless Chromium against the real HTTP
// handlers, with the domain's in-memory stores behind them and a small worker
// that completes orders the way the backend does (sign a receipt, store it,
// mark the order, publish OrderCompleted). The same page against the real
// services on the local stack is exercised by frontend/e2e.
package browser

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/contoso/orderflow/frontend/api"
	"github.com/contoso/orderflow/frontend/hub"
	"github.com/contoso/orderflow/frontend/internal/browsertest"
	"github.com/contoso/orderflow/frontend/web"
	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/orders/orderstest"
)

// app is the frontend served in-process with fakes.
type app struct {
	url      string
	orders   *orderstest.Orders
	receipts *orderstest.Receipts
}

// startApp serves the page and API; placed orders complete after delay.
func startApp(t *testing.T, delay time.Duration) *app {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hub := hub.NewHub()
	a := &app{orders: orderstest.NewOrders(), receipts: orderstest.NewReceipts()}
	secrets := orderstest.NewSecrets("3f1c0ffee", []byte("browser-test-signing-key-0123456"))
	pub := &queue{ch: make(chan string, 64)}
	srv := api.NewServer(api.Deps{
		Orders: a.orders, Attachments: orderstest.NewAttachments(), Receipts: a.receipts, Publisher: pub,
		Secrets: secrets, Hub: hub, Assets: web.Files(),
		Identity: api.Identity{Service: "frontend", ClientID: "11111111-2222-3333-4444-555555555555",
			TenantID: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", AuthorityHost: "https://login.local.test/"},
		Checker: api.NewChecker([]api.Check{
			{Name: "keyvault", Probe: func(context.Context) error { return nil }},
			{Name: "cosmos", Probe: func(context.Context) error { return nil }},
			{Name: "blob", Probe: func(context.Context) error { return nil }},
			{Name: "servicebus", Probe: func(context.Context) error { return nil }},
		}, time.Second, time.Second, nil),
	}, api.Limits{Poll: time.Second, MaxAttachmentBytes: 1 << 20})
	ts := httptest.NewServer(srv)
	a.url = ts.URL
	done := make(chan struct{})
	go func() {
		defer close(done)
		worker(ctx, pub.ch, a, secrets, hub, delay)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		hub.Close()
		ts.Close()
	})
	return a
}

// queue is the Publisher: OrderPlaced goes to the worker's channel.
type queue struct{ ch chan string }

func (q *queue) PublishOrderPlaced(_ context.Context, o *orders.Order) error {
	q.ch <- o.ID
	return nil
}

// worker completes each placed order after delay, as the backend would.
func worker(ctx context.Context, placed <-chan string, a *app, secrets *orderstest.Secrets, hub *hub.Hub, delay time.Duration) {
	for {
		var id string
		select {
		case <-ctx.Done():
			return
		case id = <-placed:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		o, err := a.orders.Get(ctx, id)
		if err != nil {
			continue
		}
		r, err := orders.NewReceipt(o, orders.DefaultCatalog(), time.Now())
		if err != nil {
			continue
		}
		key, version, _ := secrets.SigningKey(ctx)
		if r.Sign(key, version) != nil {
			continue
		}
		if _, _, err := a.receipts.PutIfAbsent(ctx, r); err != nil {
			continue
		}
		if a.orders.MarkCompleted(ctx, o, r.Ref()) != nil {
			continue
		}
		if ev, err := orders.NewOrderCompletedEvent(o, r, "/orderflow/backend"); err == nil {
			_, _ = hub.PublishEvent(ctx, ev)
		}
	}
}

// open loads the page at the given viewport and waits for its script to start.
func open(t *testing.T, ctx context.Context, url string, width, height int64) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(width, height),
		chromedp.Navigate(url),
	); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(ctx, `document.body.dataset.ready === "true" && document.querySelectorAll("#item-rows select option").length > 0`, 15*time.Second); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlaceOrderWithAttachmentReachesCompleted(t *testing.T) {
	ctx := browsertest.NewBrowser(t)
	a := startApp(t, 1500*time.Millisecond)
	open(t, ctx, a.url, 1280, 900)
	browsertest.Screenshot(t, ctx, "desktop-start")

	file := writeFile(t, "delivery-note.txt", []byte("Leave the parcel with the neighbour.\n"))
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#customerId"), "customer-42"),
		chromedp.SetValue(chromedp.CSS("#item-rows li:nth-child(1) select"), "grinder-hand"),
		chromedp.SetValue(chromedp.CSS("#item-rows li:nth-child(1) input"), "1"),
		chromedp.Click(chromedp.CSS("#add-item")),
		chromedp.SetValue(chromedp.CSS("#item-rows li:nth-child(2) select"), "mug-ceramic"),
		chromedp.SetValue(chromedp.CSS("#item-rows li:nth-child(2) input"), "4"),
		chromedp.SetValue(chromedp.CSS("#note"), "Birthday present"),
		chromedp.SetUploadFiles(chromedp.CSS("#attachment"), []string{file}),
		chromedp.Click(chromedp.CSS("#submit")),
	); err != nil {
		t.Fatal(err)
	}
	// Pending first, shown live, then Completed without a reload.
	if err := browsertest.WaitFor(ctx, `document.querySelector("#status-value").dataset.status === "Pending"`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(ctx, `document.querySelector("#attachment-line").textContent.startsWith("Attached")`, 10*time.Second); err != nil {
		text, _ := browsertest.Text(ctx, "#attachment-line")
		t.Fatalf("%v (attachment line %q)", err, text)
	}
	browsertest.Screenshot(t, ctx, "desktop-pending")
	if err := browsertest.WaitFor(ctx, `document.querySelector("#status-value").dataset.status === "Completed"`, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	orderID, _ := browsertest.Text(ctx, "#status-order-id")
	o, err := a.orders.Get(context.Background(), orderID)
	if err != nil {
		t.Fatalf("order %q shown on the page: %v", orderID, err)
	}
	if o.CustomerID != "customer-42" || len(o.Items) != 2 || len(o.Attachments) != 1 || o.Attachments[0].Name != "delivery-note.txt" {
		t.Errorf("stored order %+v", o)
	}
	// The recent orders list shows it.
	if err := browsertest.WaitFor(ctx, fmt.Sprintf(`document.querySelector("#recent-rows").textContent.includes(%q)`, orderID), 10*time.Second); err != nil {
		t.Fatal(err)
	}

	// The receipt opens and verifies.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#receipt-link"))); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(ctx, `document.querySelector("#receipt-verdict").classList.contains("ok")`, 10*time.Second); err != nil {
		text, _ := browsertest.Text(ctx, "#receipt-verdict")
		t.Fatalf("%v (verdict %q)", err, text)
	}
	verdict, _ := browsertest.Text(ctx, "#receipt-verdict")
	if !strings.Contains(verdict, "Signature verified") || !strings.Contains(verdict, "3f1c0ffee") {
		t.Errorf("verdict %q", verdict)
	}
	browsertest.Screenshot(t, ctx, "desktop-completed-receipt")

	// The same page at phone width.
	open(t, ctx, a.url, 390, 844)
	browsertest.Screenshot(t, ctx, "phone-start")
}

func TestInvalidOrderShowsFieldErrors(t *testing.T) {
	ctx := browsertest.NewBrowser(t)
	a := startApp(t, time.Hour)
	open(t, ctx, a.url, 390, 844)
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#customerId"), "not a valid id!"),
		chromedp.Click(chromedp.CSS("#add-item")),
		chromedp.SetValue(chromedp.CSS("#item-rows li:nth-child(2) select"), "grinder-hand"),
		chromedp.SetValue(chromedp.CSS("#item-rows li:nth-child(2) input"), "0"),
		chromedp.Click(chromedp.CSS("#submit")),
	); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(ctx, `document.querySelector("#customerId-error").textContent !== ""`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	custErr, _ := browsertest.Text(ctx, "#customerId-error")
	qtyErr, _ := browsertest.Text(ctx, "#item-rows li:nth-child(2) .qty .error")
	firstQtyErr, _ := browsertest.Text(ctx, "#item-rows li:nth-child(1) .qty .error")
	if custErr == "" || !strings.Contains(qtyErr, "between 1 and") || firstQtyErr != "" {
		t.Errorf("customer error %q, second row quantity error %q, first row %q", custErr, qtyErr, firstQtyErr)
	}
	invalid, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#customerId").getAttribute("aria-invalid") === "true" && document.activeElement === document.querySelector("#customerId")`))
	if err != nil || !invalid {
		t.Errorf("customer field not marked invalid and focused (%v)", err)
	}
	browsertest.Screenshot(t, ctx, "phone-field-errors")
	browsertest.ScreenshotAt(t, ctx, "phone-field-errors-top", "#place-title")
	if a.orders.Len() != 0 {
		t.Error("an invalid order was stored")
	}
}

func TestAttachmentRejectedShowsFieldError(t *testing.T) {
	ctx := browsertest.NewBrowser(t)
	a := startApp(t, time.Hour)
	open(t, ctx, a.url, 1280, 900)
	// A file whose name says PNG but whose bytes are HTML.
	file := writeFile(t, "photo.png", []byte("<!DOCTYPE html><html><body>hi</body></html>"))
	if err := chromedp.Do(ctx,
		chromedp.SetUploadFiles(chromedp.CSS("#attachment"), []string{file}),
		chromedp.Click(chromedp.CSS("#submit")),
	); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(ctx, `document.querySelector("#attachment-error").textContent !== ""`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	msg, _ := browsertest.Text(ctx, "#attachment-error")
	if !strings.Contains(msg, "image/png") {
		t.Errorf("attachment error %q", msg)
	}
}

func TestRecentOrdersPaging(t *testing.T) {
	ctx := browsertest.NewBrowser(t)
	a := startApp(t, time.Hour)
	base := time.Now().Add(-time.Hour)
	for i := range 7 {
		o, err := orders.NewOrder(orders.PlaceOrderInput{CustomerID: "pager", Items: []orders.Item{{ProductID: "mug-ceramic", Quantity: i + 1}}},
			orders.DefaultCatalog(), base.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.orders.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	open(t, ctx, a.url, 1280, 900)
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#recent-customer"), "pager"),
		chromedp.Click(chromedp.CSS("#recent-form button")),
	); err != nil {
		t.Fatal(err)
	}
	rows := func(n int) string {
		return fmt.Sprintf(`document.querySelectorAll("#recent-rows tr").length === %d`, n)
	}
	// Page 1: the five newest (quantities 7..3), Next enabled.
	if err := browsertest.WaitFor(ctx, rows(5)+` && document.querySelector("#recent-rows").textContent.includes("7× mug-ceramic") && !document.querySelector("#recent-next").disabled`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#recent-next"))); err != nil {
		t.Fatal(err)
	}
	// Page 2: the remaining two, Next disabled, Previous enabled.
	if err := browsertest.WaitFor(ctx, rows(2)+` && document.querySelector("#recent-rows").textContent.includes("1× mug-ceramic") && document.querySelector("#recent-next").disabled && !document.querySelector("#recent-prev").disabled`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	page, _ := browsertest.Text(ctx, "#recent-page")
	if page != "Page 2" {
		t.Errorf("pager says %q", page)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#recent-prev"))); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(ctx, rows(5)+` && document.querySelector("#recent-prev").disabled`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}
