package browser

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/contoso/orderflow/frontend/api"
	"github.com/contoso/orderflow/frontend/internal/browsertest"
	"github.com/contoso/orderflow/frontend/web"
	"github.com/contoso/orderflow/platform/doctor"
	"github.com/contoso/orderflow/platform/health"
	"github.com/contoso/orderflow/platform/identity"
	"github.com/contoso/orderflow/platform/orders"
	"github.com/contoso/orderflow/platform/orders/orderstest"
)

const (
	frontendClientID = "11111111-2222-3333-4444-555555555555"
	backendClientID  = "2a42ce7b-4bad-44d2-9a3d-0cdec0ae448a"
)

// downQueue is a Publisher whose every send fails: lab 3's Service Bus outage.
type downQueue struct{}

func (downQueue) PublishOrderPlaced(context.Context, *orders.Order) error {
	return orders.Errorf(orders.EUNAVAILABLE, "Service Bus is down.")
}

func prober(items ...doctor.Permission) *identity.Prober {
	return identity.NewProber(func(context.Context, time.Duration) []doctor.Permission { return items }, identity.ProberOptions{})
}

// startTwoServices serves the page with a backend health port next to it (or a
// backend URL where nothing answers when backendUp is false), and Service Bus down.
func startTwoServices(t *testing.T, backendUp bool) string {
	t.Helper()
	ok := func(context.Context) error { return nil }
	backend := httptest.NewServer(http.NotFoundHandler())
	if backendUp {
		mux := http.NewServeMux()
		mux.Handle("GET /identity", &identity.Source{
			Info:    identity.Info{Service: "backend", ClientID: backendClientID, TenantID: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"},
			Checker: health.New([]health.Check{{Name: "servicebus", Probe: ok}}, health.Options{}),
			Prober: prober(
				doctor.Permission{Check: "blob-read:receipts", Scope: "storage/receipts", Role: "Storage Blob Data Contributor", Status: doctor.Allowed, Entra: true},
				doctor.Permission{Check: "servicebus-peek:orders", Scope: "servicebus/orders", Role: "Azure Service Bus Data Receiver", Status: doctor.Denied, Entra: true,
					Detail: "denied (unauthorized)", Fix: "grant the backend identity Azure Service Bus Data Receiver"},
			),
		})
		backend.Config.Handler = mux
	} else {
		backend.Close()
	}
	t.Cleanup(backend.Close)
	srv := api.NewServer(api.Deps{
		Orders: orderstest.NewOrders(), Attachments: orderstest.NewAttachments(), Receipts: orderstest.NewReceipts(), Publisher: downQueue{},
		Secrets: orderstest.NewSecrets("3f1c0ffee", []byte("browser-test-signing-key-0123456")), Assets: web.Files(),
		Identity: api.Identity{Service: "frontend", ClientID: frontendClientID, TenantID: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"},
		Checker:  api.NewChecker([]api.Check{{Name: "servicebus", Probe: ok}}, time.Second, time.Second, nil),
		Permissions: prober(
			doctor.Permission{Check: "servicebus-send:orders", Scope: "servicebus/orders", Role: "Azure Service Bus Data Sender", Status: doctor.NotProbed, Entra: true},
		),
		BackendHealthURL: backend.URL,
		Reconcile:        api.Reconcile{MinAge: 60 * time.Second, Interval: 30 * time.Second},
	}, api.Limits{Poll: time.Second})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL
}

// Both identities side by side with their permissions, and lab 3's trip: every
// check is ✓ but the order cannot be sent, so the page says it is stored, not yet
// sent, and when the frontend retries, and who did the steps so far.
func TestIdentitiesAndPendingHint(t *testing.T) {
	ctx := browsertest.NewBrowser(t)
	url := startTwoServices(t, true)
	open(t, ctx, url, 1280, 900)
	if err := browsertest.WaitFor(ctx, `document.querySelector("#identity-backend").dataset.reachable === "true" &&
		document.querySelectorAll("#identity-backend .perms li[data-check]").length === 2`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	fe, _ := browsertest.Text(ctx, "#identity-frontend")
	be, _ := browsertest.Text(ctx, "#identity-backend")
	if !strings.Contains(fe, frontendClientID) || !strings.Contains(fe, "servicebus-send:orders: not probed (writes) — Azure Service Bus Data Sender on servicebus/orders") {
		t.Errorf("frontend panel:\n%s", fe)
	}
	if !strings.Contains(be, backendClientID) || !strings.Contains(be, "servicebus-peek:orders: denied — Azure Service Bus Data Receiver on servicebus/orders") ||
		!strings.Contains(be, "blob-read:receipts: allowed") || !strings.Contains(be, "servicebus: reachable") {
		t.Errorf("backend panel:\n%s", be)
	}
	help, _ := browsertest.Text(ctx, "#permissions-help")
	if !strings.Contains(help, "az role assignment list --assignee") || !strings.Contains(help, "access log") {
		t.Errorf("help text %q", help)
	}

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#submit"))); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(ctx, `document.querySelector("#delivery-hint").dataset.sent === "false" && !document.querySelector("#delivery-hint").hidden`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	hint, _ := browsertest.Text(ctx, "#delivery-hint")
	if !strings.Contains(hint, "Stored, not yet sent to the backend; the frontend retries by") {
		t.Errorf("hint %q", hint)
	}
	steps, _ := browsertest.Text(ctx, "#order-steps")
	if !strings.Contains(steps, "order stored in Cosmos DB as Pending") || !strings.Contains(steps, "by the frontend ("+frontendClientID+")") ||
		!strings.Contains(steps, "(not yet) OrderPlaced sent") || !strings.Contains(steps, "by the backend ("+backendClientID+")") {
		t.Errorf("steps:\n%s", steps)
	}
	browsertest.Screenshot(t, ctx, "desktop-identities-pending-hint")
}

// A backend whose health port does not answer is shown as such, and the
// frontend's own panel still works.
func TestBackendUnreachableShown(t *testing.T) {
	ctx := browsertest.NewBrowser(t)
	url := startTwoServices(t, false)
	open(t, ctx, url, 390, 844)
	if err := browsertest.WaitFor(ctx, `document.querySelector("#identity-backend").dataset.reachable === "false"`, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	state, _ := browsertest.Text(ctx, "#identity-backend .backend-state")
	fe, _ := browsertest.Text(ctx, "#identity-frontend")
	if !strings.Contains(state, "Backend not reachable at http://127.0.0.1:") || !strings.Contains(fe, frontendClientID) {
		t.Errorf("backend state %q, frontend panel %q", state, fe)
	}
	browsertest.Screenshot(t, ctx, "phone-backend-unreachable")
}
