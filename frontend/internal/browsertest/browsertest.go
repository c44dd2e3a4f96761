// Package browsertest starts headless Chromium for the page's browser tests and
// holds the steps those tests share (place an order, wait for a status, open
// the receipt), so the in-process browser tests and the end-to-end test drive
// the page the same way.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package installs the browser.
const ChromiumPath = "/usr/bin/chromium"

// findChromium returns the browser to run: $CHROMIUM if set, else Debian's.
func findChromium() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, nil
	}
	if _, err := os.Stat(ChromiumPath); err == nil {
		return ChromiumPath, nil
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	return "", errors.New("chromium not found at " + ChromiumPath + " (apt-get install -y chromium; scripts/install-test-deps.sh does it)")
}

// NewBrowser starts a headless Chromium with a fresh profile and returns a tab
// context, or skips the test under -short or when Chromium is missing. The
// browser stops at the end of the test.
func NewBrowser(t testing.TB) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped under -short")
	}
	path, err := findChromium()
	if err != nil {
		if os.Getenv("CI") != "" {
			// CI installs Chromium; its absence there is a broken setup, not a skip.
			t.Fatal(err)
		}
		t.Skip(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
	// Start the browser now so a launch failure is reported as such.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// ScreenshotDir is artifacts/screenshots at the repository root.
func ScreenshotDir() string {
	_, file, _, _ := runtime.Caller(0)
	// file is frontend/internal/browsertest/browsertest.go.
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "artifacts", "screenshots")
}

// Screenshot saves a full-page PNG as artifacts/screenshots/<name>.png. A
// failure to save is logged, not fatal: screenshots are for people to look at.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	save(t, name, png)
}

// ScreenshotAt scrolls the element matching css to the top and saves what the
// viewport shows: at phone width a full page is too tall to read at a glance.
func ScreenshotAt(t testing.TB, ctx context.Context, name, css string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(document.querySelector(%q)?.scrollIntoView({block: "start"}), true)`, css))); err != nil {
		t.Logf("scroll to %s: %v", css, err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	save(t, name, png)
}

func save(t testing.TB, name string, png []byte) {
	t.Helper()
	dir := ScreenshotDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("screenshot dir: %v", err)
		return
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("write screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", path)
}

// WaitFor polls a JavaScript expression until it is truthy.
func WaitFor(ctx context.Context, expr string, timeout time.Duration) error {
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		return fmt.Errorf("wait for %s: %w", expr, err)
	}
	return nil
}

// Text returns the text content of the first element matching a CSS selector.
func Text(ctx context.Context, css string) (string, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf("document.querySelector(%q)?.textContent ?? ''", css)))
}
