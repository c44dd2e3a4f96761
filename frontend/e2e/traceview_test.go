package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/contoso/orderflow/frontend/internal/browsertest"
)

// TestTraceViewShowsAnOrderAndADenial runs both services under `localazure up`
// with the frontend's Storage Blob Data Reader role on receipts removed, places an
// order, and reads localazure's trace view in headless Chromium: the order's trace
// is one timeline with spans from both services, and the access log shows the
// frontend refused on the receipts container with the role it would have needed.
func TestTraceViewShowsAnOrderAndADenial(t *testing.T) {
	requireStack(t)
	launcher := buildLauncher(t)
	var traceView int
	cfg := crashConfig(t, func(la map[string]any) {
		ras := la["roleAssignments"].([]any)
		la["roleAssignments"] = slices.DeleteFunc(ras, func(r any) bool {
			m := r.(map[string]any)
			return m["principal"] == "frontend" && m["role"] == "Storage Blob Data Reader" && m["scope"] == "storage/receipts"
		})
		traceView = la["ports"].(map[string]any)["traceView"].(int)
	})
	httpAddr, _ := freeAddr()
	healthAddr, _ := freeAddr()
	base := "http://" + httpAddr
	cmd := exec.Command(launcher, "up", "--config", cfg, "--state-dir", t.TempDir(),
		"--exec", "frontend="+filepath.Join(env.bin, "frontend"), "--exec", "backend="+filepath.Join(env.bin, "backend"))
	cmd.Env = append(os.Environ(), "HTTP_ADDR="+httpAddr, "HEALTH_ADDR="+healthAddr, "OTEL_BSP_SCHEDULE_DELAY=200")
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	if err := waitHTTP(base+"/readyz", 120*time.Second); err != nil {
		t.Fatalf("frontend never ready: %v\n%s", err, tail(out.String(), 40))
	}

	hc := &http.Client{Timeout: 10 * time.Second}
	id, ok := postOrder(hc, base, "traceview", 1)
	if !ok {
		t.Fatal("order refused")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var o order
		if getFrom(hc, base+"/api/orders/"+id, &o) == http.StatusOK && o.Status == "Completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s not Completed\n%s", id, tail(out.String(), 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The receipt read is refused: the frontend lacks the reader role on receipts.
	var receipt struct{}
	if code := getFrom(hc, base+"/api/orders/"+id+"/receipt", &receipt); code == http.StatusOK {
		t.Fatalf("receipt read without the Storage Blob Data Reader role: %d", code)
	}

	// Find the order's trace: the one whose spans name the order.
	view := fmt.Sprintf("http://127.0.0.1:%d/", traceView)
	var traceID string
	for deadline := time.Now().Add(20 * time.Second); traceID == "" && time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		var list []struct {
			TraceID  string   `json:"traceId"`
			Services []string `json:"services"`
		}
		getFrom(hc, view+"api/traces", &list)
		for _, tr := range list {
			if len(tr.Services) < 2 {
				continue
			}
			resp, err := hc.Get(view + "api/traces/" + tr.TraceID)
			if err != nil {
				continue
			}
			var spans []map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&spans)
			resp.Body.Close()
			if b, _ := json.Marshal(spans); strings.Contains(string(b), id) {
				traceID = tr.TraceID
				break
			}
		}
	}
	if traceID == "" {
		t.Fatalf("no trace in the view holds order %s across both services\n%s", id, tail(out.String(), 40))
	}

	ctx := browsertest.NewBrowser(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(view+"?trace="+traceID)); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(ctx, `(() => {
		const labels = [...document.querySelectorAll("#timeline .row .svc")].map((e) => e.textContent);
		return labels.includes("frontend") && labels.includes("backend") && document.querySelectorAll("#timeline .bar").length === labels.length;
	})()`, 15*time.Second); err != nil {
		t.Fatalf("timeline with both services: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#show-access"))); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.WaitFor(ctx, `[...document.querySelectorAll("#access-rows tr.denied")].some((tr) =>
		tr.textContent.includes("frontend") && tr.textContent.includes("storage/receipts") && tr.textContent.includes("Storage Blob Data Reader"))`, 15*time.Second); err != nil {
		t.Fatalf("denied receipt read in the access log: %v", err)
	}
}
