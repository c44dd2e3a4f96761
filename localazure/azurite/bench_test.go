package azurite_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
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

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on
// every Linux ABI, whatever the kernel's own tick rate.
const clockTicks = 100

// cpuTime is the user plus system CPU the process has used, from /proc/<pid>/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces; the fields after it do not.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("stat of %d: %d fields after the name", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat of %d: utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// uploader is one running Azurite with a container and an azblob client that
// uploads to it with a bearer token, as the services do.
type uploader struct {
	srv    *azurite.Server
	client *azblob.Client
	spent  time.Duration // wall time inside uploads
}

func newUploader(b *testing.B, dir string, accessLog bool) *uploader {
	b.Helper()
	ca, err := tlsca.LoadOrCreate("")
	if err != nil {
		b.Fatal(err)
	}
	leaf, err := ca.ServerCertificate()
	if err != nil {
		b.Fatal(err)
	}
	certPEM, keyPEM, err := tlsca.KeyPEM(leaf)
	if err != nil {
		b.Fatal(err)
	}
	s, err := azurite.Start(context.Background(), azurite.Options{
		Dir: dir, CertPEM: certPEM, KeyPEM: keyPEM, RootCAs: ca.Pool(), WorkDir: b.TempDir(),
		AccessLog: accessLog, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Stop() })
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	if err := s.CreateContainers(context.Background(), hc, "bench"); err != nil {
		b.Fatal(err)
	}
	client, err := azblob.NewClient(s.URL()+"/", authztest.NewIssuer().Credential("oid-bench"),
		&azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: hc}})
	if err != nil {
		b.Fatal(err)
	}
	return &uploader{srv: s, client: client}
}

func (u *uploader) upload(b *testing.B, name string, body []byte) {
	t0 := time.Now()
	if _, err := u.client.UploadBuffer(context.Background(), "bench", name, body, nil); err != nil {
		b.Fatalf("upload %s: %v", name, err)
	}
	u.spent += time.Since(t0)
}

// BenchmarkQuietUploads uploads 1 KiB blobs with azblob to two Azurites started in
// the same run, one with Azurite's default access log and one with --silent (the
// default of azurite.Start), alternating upload by upload so that both see the same
// machine. It reports each one's uploads/s and the CPU its node process spent per
// upload (from /proc), and the ratios quiet/logged.
func BenchmarkQuietUploads(b *testing.B) {
	dir, err := azurite.FindDir("")
	if err != nil {
		b.Fatal(err)
	}
	if !azurite.Installed(dir) {
		b.Skip("Azurite is not installed (scripts/install-test-deps.sh installs it)")
	}
	logged, quiet := newUploader(b, dir, true), newUploader(b, dir, false)
	body := bytes.Repeat([]byte("x"), 1024)
	// Warm both up (TLS sessions, JIT) before anything is counted.
	for i := range 50 {
		logged.upload(b, fmt.Sprint("warm-", i), body)
		quiet.upload(b, fmt.Sprint("warm-", i), body)
	}
	logged.spent, quiet.spent = 0, 0
	cpu0 := make(map[*uploader]time.Duration)
	for _, u := range []*uploader{logged, quiet} {
		if cpu0[u], err = cpuTime(u.srv.Pid()); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprint("blob-", i)
		logged.upload(b, name, body)
		quiet.upload(b, name, body)
	}
	b.StopTimer()
	perUpload := make(map[*uploader]float64) // ms of Azurite CPU
	for _, u := range []*uploader{logged, quiet} {
		cpu, err := cpuTime(u.srv.Pid())
		if err != nil {
			b.Fatal(err)
		}
		perUpload[u] = float64(cpu-cpu0[u]) / float64(time.Millisecond) / float64(b.N)
	}
	rate := func(u *uploader) float64 { return float64(b.N) / u.spent.Seconds() }
	b.ReportMetric(rate(logged), "logged-uploads/s")
	b.ReportMetric(rate(quiet), "quiet-uploads/s")
	b.ReportMetric(rate(quiet)/rate(logged), "quiet/logged-rate")
	b.ReportMetric(perUpload[logged], "logged-cpu-ms/upload")
	b.ReportMetric(perUpload[quiet], "quiet-cpu-ms/upload")
	if perUpload[logged] > 0 {
		b.ReportMetric(perUpload[quiet]/perUpload[logged], "quiet/logged-cpu")
	}
}

// TestQuietByDefault: azurite.Start runs Azurite without its access log unless
// AccessLog asks for it, and either way the upload is served alike.
func TestQuietByDefault(t *testing.T) {
	dir := requireInstalled(t)
	for _, accessLog := range []bool{false, true} {
		t.Run(fmt.Sprint("AccessLog=", accessLog), func(t *testing.T) {
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
			var out syncBuffer
			s, err := azurite.Start(context.Background(), azurite.Options{
				Dir: dir, CertPEM: certPEM, KeyPEM: keyPEM, RootCAs: ca.Pool(), WorkDir: t.TempDir(),
				AccessLog: accessLog, Logger: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Stop()
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
			if err := s.CreateContainers(context.Background(), hc, "quiet"); err != nil {
				t.Fatal(err)
			}
			client, err := azblob.NewClient(s.URL()+"/", authztest.NewIssuer().Credential("oid-1"),
				&azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: hc}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := client.UploadBuffer(context.Background(), "quiet", "b", []byte("1 KiB or so"), nil); err != nil {
				t.Fatal(err)
			}
			// The access line of the upload is written as the answer goes out.
			const line = "PUT /devstoreaccount1/quiet/b"
			if accessLog {
				deadline := time.Now().Add(5 * time.Second)
				for !strings.Contains(out.String(), line) && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
			}
			s.Stop() // the output is complete once the process has exited
			if got := strings.Contains(out.String(), line); got != accessLog {
				t.Errorf("access log line present %v, want %v; output:\n%s", got, accessLog, out.String())
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the output pump and the test together.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
