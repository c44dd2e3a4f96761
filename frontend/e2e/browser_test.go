package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/contoso/orderflow/frontend/internal/browsertest"
)

// TestPageOnTheStack drives the page in headless Chromium against the frontend
// process: an order with an attachment goes through the backend on the local
// stand-ins to Completed, live over SSE, and its receipt verifies; an invalid
// order shows its field error.
func TestPageOnTheStack(t *testing.T) {
	requireStack(t)
	ctx := browsertest.NewBrowser(t)
	file := filepath.Join(t.TempDir(), "gift-message.txt")
	if err := os.WriteFile(file, []byte("Happy birthday!\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(env.frontendURL)); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(ctx, `document.body.dataset.ready === "true" && document.querySelectorAll("#item-rows select option").length > 0`, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	// The identity panels show each service's projected token subject, from the real
	// token files: the backend's through the frontend, from the backend process.
	for _, sa := range []string{"frontend", "backend"} {
		if err := browsertest.WaitFor(ctx, `document.querySelector("#identity-`+sa+`").textContent.includes("system:serviceaccount:orderflow:`+sa+`")`, 15*time.Second); err != nil {
			t.Error(err)
		}
	}
	// localazure gives the frontend TRACE_VIEW_URL (endpointEnv.traceView), and the
	// page links there.
	if err := browsertest.WaitFor(ctx, `!document.querySelector("#trace-view").hidden && document.querySelector("#trace-view-link").href.startsWith("http://127.0.0.1:")`, 15*time.Second); err != nil {
		t.Errorf("trace view link: %v", err)
	}

	// An invalid order first: the error appears next to the quantity.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#customerId"), "e2e-browser"),
		chromedp.SetValue(chromedp.CSS("#item-rows li:nth-child(1) input"), "500"),
		chromedp.Click(chromedp.CSS("#submit")),
	); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(ctx, `document.querySelector("#item-rows li:nth-child(1) .qty .error").textContent !== ""`, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	// Then a valid one with an attachment.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#item-rows li:nth-child(1) select"), "kettle-gooseneck"),
		chromedp.SetValue(chromedp.CSS("#item-rows li:nth-child(1) input"), "1"),
		chromedp.SetUploadFiles(chromedp.CSS("#attachment"), []string{file}),
		chromedp.Click(chromedp.CSS("#submit")),
	); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(ctx, `document.querySelector("#status-value").dataset.status === "Completed"`, 60*time.Second); err != nil {
		status, _ := browsertest.Text(ctx, "#status-value")
		t.Fatalf("%v (status %q)", err, status)
	}
	if err := browsertest.WaitFor(ctx, `document.querySelector("#attachment-line").textContent.startsWith("Attached")`, 10*time.Second); err != nil {
		line, _ := browsertest.Text(ctx, "#attachment-line")
		t.Errorf("%v (attachment line %q)", err, line)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#receipt-link"))); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(ctx, `document.querySelector("#receipt-verdict").classList.contains("ok")`, 15*time.Second); err != nil {
		verdict, _ := browsertest.Text(ctx, "#receipt-verdict")
		t.Fatalf("%v (verdict %q)", err, verdict)
	}
	verdict, _ := browsertest.Text(ctx, "#receipt-verdict")
	if !strings.Contains(verdict, "Signature verified") {
		t.Errorf("verdict %q", verdict)
	}
	browsertest.Screenshot(t, ctx, "e2e-desktop-completed")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	browsertest.Screenshot(t, ctx, "e2e-phone-completed")
	browsertest.ScreenshotAt(t, ctx, "e2e-phone-status", "#status-card")
	browsertest.ScreenshotAt(t, ctx, "e2e-phone-identity", "#identity-title")
}
