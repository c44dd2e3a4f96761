package azurite_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/contoso/orderflow/localazure/authz/authztest"
	"github.com/contoso/orderflow/localazure/azurite"
	"github.com/contoso/orderflow/localazure/tlsca"
)

// requireInstalled skips in -short runs without Azurite and fails otherwise: a full
// run must exercise the real Azurite.
func requireInstalled(t *testing.T) string {
	t.Helper()
	dir, err := azurite.FindDir("")
	if err != nil {
		t.Fatal(err)
	}
	if !azurite.Installed(dir) {
		if testing.Short() {
			t.Skip("Azurite is not installed (scripts/install-test-deps.sh installs it); skipped in -short mode")
		}
		t.Fatal("Azurite is not installed: run scripts/install-test-deps.sh (full test runs need it)")
	}
	return dir
}

func startAzurite(t *testing.T, dataDir string) (*azurite.Server, *http.Client) {
	t.Helper()
	dir := requireInstalled(t)
	ca, err := tlsca.LoadOrCreate("")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.ServerCertificate()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := tlsca.KeyPEM(leaf)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	s, err := azurite.Start(context.Background(), azurite.Options{
		Dir: dir, CertPEM: certPEM, KeyPEM: keyPEM, RootCAs: ca.Pool(), WorkDir: t.TempDir(), DataDir: dataDir,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("azurite answered after %s", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() { s.Stop() })
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	return s, hc
}

func TestBearerTokenUploadOverTLS(t *testing.T) {
	t.Parallel()
	s, hc := startAzurite(t, "")
	ctx := context.Background()
	if err := s.CreateContainers(ctx, hc, "attachments", "receipts"); err != nil {
		t.Fatal(err)
	}
	// Twice: a second start against the same data must not fail on existing containers.
	if err := s.CreateContainers(ctx, hc, "attachments"); err != nil {
		t.Fatal(err)
	}
	iss := authztest.NewIssuer()
	client, err := azblob.NewClient(s.URL()+"/", iss.Credential("oid-1"), &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: hc}})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("receipt #1")
	if _, err := client.UploadBuffer(ctx, "receipts", "r1.txt", body, nil); err != nil {
		t.Fatalf("upload with a bearer token: %v", err)
	}
	resp, err := client.DownloadStream(ctx, "receipts", "r1.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, body) {
		t.Fatalf("downloaded %q, want %q", got, body)
	}
	// A container that was not created does not exist.
	if _, err := client.UploadBuffer(ctx, "nope", "x", body, nil); err == nil {
		t.Fatal("upload to a missing container succeeded")
	}
	// Stop ends the process.
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Exited():
	default:
		t.Fatal("process still running after Stop")
	}
}

func TestDataDirPersists(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	s, hc := startAzurite(t, data)
	if err := s.CreateContainers(context.Background(), hc, "kept"); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s2, hc2 := startAzurite(t, data)
	cred, _ := azblob.NewSharedKeyCredential(azurite.Account, azurite.WellKnownKey)
	c, _ := azblob.NewClientWithSharedKeyCredential(s2.URL()+"/", cred, &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: hc2}})
	if _, err := c.UploadBuffer(context.Background(), "kept", "x", []byte("x"), nil); err != nil {
		t.Fatalf("container did not survive a restart on the same data directory: %v", err)
	}
	entries, _ := os.ReadDir(data)
	if len(entries) == 0 {
		t.Fatal("nothing written to the data directory")
	}
}

func TestNotInstalled(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{}`), 0o644)
	_, err := azurite.Start(context.Background(), azurite.Options{Dir: dir, CertPEM: []byte("x"), KeyPEM: []byte("x"), WorkDir: t.TempDir()})
	if !errors.Is(err, azurite.ErrNotInstalled) || !strings.Contains(err.Error(), "run `make run` or scripts/install-test-deps.sh to install Azurite from npm") {
		t.Fatalf("err = %v", err)
	}
}

func TestPackagePinsVersion(t *testing.T) {
	dir, err := azurite.FindDir("")
	if err != nil {
		t.Fatal(err)
	}
	pkg, _ := os.ReadFile(filepath.Join(dir, "package.json"))
	if !strings.Contains(string(pkg), `"azurite": "`+azurite.Version+`"`) {
		t.Fatalf("package.json does not pin azurite %s exactly:\n%s", azurite.Version, pkg)
	}
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil || !strings.Contains(string(lock), `"node_modules/azurite": {`+"\n"+`      "version": "`+azurite.Version+`"`) {
		t.Fatalf("package-lock.json missing or not at azurite %s (err %v)", azurite.Version, err)
	}
}

// TestFastStartStubsTelemetry checks that fast-start.js still replaces the module it
// means to in the pinned Azurite (the path is Azurite's internal layout), and only
// when telemetry is disabled.
func TestFastStartStubsTelemetry(t *testing.T) {
	dir := requireInstalled(t)
	probe := `const t = require("./node_modules/azurite/dist/src/common/Telemetry.js");
console.log(Object.keys(t.AzuriteTelemetryClient).sort().join(","));`
	node := func(args ...string) string {
		cmd := exec.Command("node", append([]string{"-r", "./fast-start.js", "-e", probe}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("node: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := node("--", "--disableTelemetry"); got != "TraceRequest,TraceStartEvent,TraceStopEvent,init" {
		t.Fatalf("with --disableTelemetry the telemetry module is %q, want the no-op stub", got)
	}
	if got := node(); got == "TraceRequest,TraceStartEvent,TraceStopEvent,init" {
		t.Fatal("the stub replaced Azurite's telemetry module although telemetry was not disabled")
	}
}

// TestAcknowledgedBlobsSurviveKill9: with durable.js preloaded, every upload and
// container that Azurite acknowledged is there after a kill -9 and a restart on the
// same data directory (without it, blobs from the last few seconds are lost: Azurite
// saves its metadata every 5 s).
func TestAcknowledgedBlobsSurviveKill9(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	s, hc := startAzurite(t, data)
	ctx := context.Background()
	cred, _ := azblob.NewSharedKeyCredential(azurite.Account, azurite.WellKnownKey)
	opts := &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: hc}}
	c, _ := azblob.NewClientWithSharedKeyCredential(s.URL()+"/", cred, opts)
	if _, err := c.CreateContainer(ctx, "crash", nil); err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := c.UploadBuffer(ctx, "crash", fmt.Sprintf("b%d", i), fmt.Appendf(nil, "body %d", i), nil); err != nil {
				t.Errorf("upload %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if _, err := c.DeleteBlob(ctx, "crash", "b0", nil); err != nil {
		t.Fatal(err)
	}
	s.Kill() // at once: well inside Azurite's 5 s metadata save interval

	s2, hc2 := startAzurite(t, data)
	c2, _ := azblob.NewClientWithSharedKeyCredential(s2.URL()+"/", cred, &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: hc2}})
	for i := 1; i < n; i++ {
		r, err := c2.DownloadStream(ctx, "crash", fmt.Sprintf("b%d", i), nil)
		if err != nil {
			t.Errorf("blob b%d was acknowledged before the kill but is lost: %v", i, err)
			continue
		}
		got, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if string(got) != fmt.Sprintf("body %d", i) {
			t.Errorf("blob b%d = %q after the kill", i, got)
		}
	}
	if _, err := c2.DownloadStream(ctx, "crash", "b0", nil); err == nil {
		t.Error("blob b0 was deleted before the kill but is back")
	}
}

// TestDurableWrapsThePinnedStores: durable.js finds the metadata stores at the
// paths of the pinned Azurite's layout (a new layout fails here, not silently).
func TestDurableWrapsThePinnedStores(t *testing.T) {
	dir := requireInstalled(t)
	probe := `require("./durable.js");
for (const f of ["blob/persistence/LokiBlobMetadataStore.js", "common/persistence/LokiExtentMetadataStore.js"]) {
  console.log(f, require("./node_modules/azurite/dist/src/" + f).default.prototype.__localazureDurable === true);
}`
	cmd := exec.Command("node", "-e", probe)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	if strings.Count(string(out), " true\n") != 2 {
		t.Fatalf("durable.js did not wrap both metadata stores:\n%s", out)
	}
}
