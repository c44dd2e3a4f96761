package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestNothingAcknowledgedIsLostWhenEverythingIsKilled runs the whole application
// under `localazure up --data-dir` in its own processes, places orders and uploads
// attachments under load, then kill -9s the launcher, the stand-ins' helpers
// (Azurite), the frontend and the backend at once. After a restart on the same data
// directory, every order that got 202 and every attachment that got 201 must be
// there, every order must reach Completed (the reconciler re-sends what never
// reached Service Bus) within a bound, and every receipt must verify, including
// those signed before the crash (Key Vault kept its generated signing key).
func TestNothingAcknowledgedIsLostWhenEverythingIsKilled(t *testing.T) {
	requireStack(t)
	if runtime.GOOS != "linux" {
		t.Skip("finds the processes to kill in /proc")
	}
	launcher := buildLauncher(t)
	cfg := crashConfig(t)
	data, state := t.TempDir(), t.TempDir()
	httpAddr, _ := freeAddr()
	healthAddr, _ := freeAddr()
	base := "http://" + httpAddr
	up := func() (*exec.Cmd, *lockedBuffer) {
		cmd := exec.Command(launcher, "up", "--config", cfg, "--state-dir", state, "--data-dir", data,
			"--exec", "frontend="+filepath.Join(env.bin, "frontend"), "--exec", "backend="+filepath.Join(env.bin, "backend"))
		cmd.Env = append(os.Environ(), "HTTP_ADDR="+httpAddr, "HEALTH_ADDR="+healthAddr,
			"RECONCILE_INTERVAL=2s", "RECONCILE_MIN_AGE=3s")
		out := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go cmd.Wait()
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			time.Sleep(100 * time.Millisecond)
			if t.Failed() {
				t.Logf("--- localazure up output ---\n%s", tail(out.String(), 60))
			}
		})
		if err := waitHTTP(base+"/readyz", 120*time.Second); err != nil {
			t.Fatalf("frontend never ready: %v\n%s", err, tail(out.String(), 60))
		}
		return cmd, out
	}

	first, _ := up()
	var (
		mu       sync.Mutex
		orders   = map[string]bool{}   // 202 seen
		attached = map[string]string{} // order id -> attachment name that got 201
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	hc := &http.Client{Timeout: 10 * time.Second}
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id, ok := postOrder(hc, base, fmt.Sprintf("crash-%d", w), i)
				if !ok {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				mu.Lock()
				orders[id] = true
				mu.Unlock()
				if i%3 == 0 {
					name := fmt.Sprintf("n%d.txt", i)
					if uploadNote(hc, base, id, name) {
						mu.Lock()
						attached[id] = name
						mu.Unlock()
					}
				}
			}
		})
	}
	time.Sleep(4 * time.Second)
	mu.Lock()
	before := len(orders)
	mu.Unlock()
	if before == 0 {
		t.Fatal("no order was accepted before the crash")
	}
	killed := killTree(t, first.Process.Pid)
	close(stop)
	wg.Wait()
	t.Logf("kill -9 of %d processes with %d orders and %d attachments acknowledged", killed, len(orders), len(attached))

	up()
	deadline := time.Now().Add(60 * time.Second)
	pending := map[string]bool{}
	for id := range orders {
		pending[id] = true
	}
	for len(pending) > 0 && time.Now().Before(deadline) {
		for id := range pending {
			var o order
			code := getFrom(hc, base+"/api/orders/"+id, &o)
			if code == http.StatusNotFound {
				t.Errorf("order %s got 202 before the crash but is lost", id)
				delete(pending, id)
				continue
			}
			if code == http.StatusOK && o.Status == "Completed" {
				delete(pending, id)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	for id := range pending {
		t.Errorf("order %s is still not Completed 60 s after the restart", id)
	}
	for id := range orders {
		var receipt struct {
			Verified bool `json:"verified"`
		}
		if code := getFrom(hc, base+"/api/orders/"+id+"/receipt", &receipt); code != http.StatusOK || !receipt.Verified {
			t.Errorf("receipt of %s: status %d, verified %v", id, code, receipt.Verified)
		}
	}
	for id, name := range attached {
		var o order
		getFrom(hc, base+"/api/orders/"+id, &o)
		found := false
		for _, a := range o.Attachments {
			found = found || a.Name == name
		}
		if !found {
			t.Errorf("attachment %s of %s got 201 before the crash but is lost: %+v", name, id, o.Attachments)
		}
	}
}

// buildLauncher builds bin/localazure into the test's binary folder.
func buildLauncher(t *testing.T) string {
	t.Helper()
	launcher := filepath.Join(env.bin, "localazure")
	build := exec.Command("go", "build", "-o", launcher, "./cmd/localazure")
	build.Dir = filepath.Join(repoRoot(), "localazure")
	build.Env = append(os.Environ(), "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build localazure: %v\n%s", err, out)
	}
	return launcher
}

// crashConfig is the repository's localazure.json on free ports; edit, if not nil,
// changes its LocalAzure section first.
func crashConfig(t *testing.T, edit ...func(la map[string]any)) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "localazure.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	ports := map[string]any{}
	for _, name := range []string{"identity", "keyVault", "cosmos", "blob", "serviceBusAmqp", "serviceBusAmqps", "traceView"} {
		addr, err := freeAddr()
		if err != nil {
			t.Fatal(err)
		}
		_, p, _ := net.SplitHostPort(addr)
		ports[name], _ = strconv.Atoi(p)
	}
	m["LocalAzure"].(map[string]any)["ports"] = ports
	for _, e := range edit {
		e(m["LocalAzure"].(map[string]any))
	}
	out, _ := json.MarshalIndent(m, "", "  ")
	path := filepath.Join(t.TempDir(), "localazure.json")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// killTree sends SIGKILL to pid and every descendant, found through
// /proc/<pid>/task/<tid>/children, leaves first, and returns how many it killed.
func killTree(t *testing.T, pid int) int {
	t.Helper()
	var all []int
	var walk func(int)
	walk = func(p int) {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", p))
		for _, task := range tasks {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", p, task.Name()))
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					walk(c)
				}
			}
		}
		all = append(all, p)
	}
	walk(pid)
	if len(all) < 4 {
		t.Fatalf("found only %d processes under the launcher (want it, Azurite, frontend, backend): %v", len(all), all)
	}
	for _, p := range all {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	return len(all)
}

func postOrder(hc *http.Client, base, customer string, i int) (string, bool) {
	body := fmt.Sprintf(`{"customerId":%q,"items":[{"productId":"mug-ceramic","quantity":%d}]}`, customer, i%5+1)
	resp, err := hc.Post(base+"/api/orders", "application/json", strings.NewReader(body))
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var o order
	if resp.StatusCode != http.StatusAccepted || json.NewDecoder(resp.Body).Decode(&o) != nil || o.ID == "" {
		return "", false
	}
	return o.ID, true
}

func uploadNote(hc *http.Client, base, orderID, name string) bool {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, name))
	h.Set("Content-Type", "text/plain")
	part, _ := mw.CreatePart(h)
	part.Write([]byte("note for " + orderID))
	mw.Close()
	resp, err := hc.Post(base+"/api/orders/"+orderID+"/attachments", mw.FormDataContentType(), &buf)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusCreated
}

func getFrom(hc *http.Client, url string, dst any) int {
	resp, err := hc.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		_ = json.NewDecoder(resp.Body).Decode(dst)
	}
	return resp.StatusCode
}

func waitHTTP(url string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		time.Sleep(250 * time.Millisecond)
	}
	return last
}

func tail(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
