package blobgate

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/contoso/orderflow/localazure/authz"
	"github.com/contoso/orderflow/localazure/authz/authztest"
	"github.com/contoso/orderflow/localazure/azurite"
	"github.com/contoso/orderflow/localazure/internal/benchkit"
	"github.com/contoso/orderflow/localazure/tlsca"
)

// benchEnv is one Azurite and a gate in front of it, with a client for each: the
// same azblob client and token, so that the difference is the gate alone.
type benchEnv struct {
	direct, gated *azblob.Client
}

func startBench(b *testing.B) benchEnv {
	b.Helper()
	dir, err := azurite.FindDir("")
	if err != nil || !azurite.Installed(dir) {
		b.Skip("Azurite is not installed (scripts/install-test-deps.sh installs it)")
	}
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
	az, err := azurite.Start(context.Background(), azurite.Options{
		Dir: dir, CertPEM: certPEM, KeyPEM: keyPEM, RootCAs: ca.Pool(), WorkDir: b.TempDir(),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { az.Stop() })
	tlsClient := &tls.Config{RootCAs: ca.Pool()}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsClient, MaxIdleConnsPerHost: 64}}
	if err := az.CreateContainers(context.Background(), hc, "bench"); err != nil {
		b.Fatal(err)
	}

	iss := authztest.NewIssuer()
	g, err := New(Options{
		Upstream: strings.TrimSuffix(az.URL(), "/"+azurite.Account), Account: azurite.Account,
		Transport: &http.Transport{TLSClientConfig: tlsClient, DisableCompression: true, MaxIdleConnsPerHost: 64},
		Verifier:  iss, TenantID: authztest.TenantID,
		Policy: authz.NewPolicy([]authz.Assignment{{PrincipalID: "bench", Role: authz.StorageBlobDataContributor, Scope: "storage/bench"}}),
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(g)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	srv.StartTLS()
	b.Cleanup(srv.Close)

	client := func(url string) *azblob.Client {
		c, err := azblob.NewClient(url, iss.Credential("bench"), &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: hc}})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	return benchEnv{direct: client(az.URL() + "/"), gated: client(srv.URL + "/" + azurite.Account + "/")}
}

// BenchmarkGate: azblob uploads and downloads through the gate, each next to the same
// client straight to Azurite in the same run (fraction-of-direct: 1 = no cost).
func BenchmarkGate(b *testing.B) {
	e := startBench(b)
	ctx := context.Background()
	for _, size := range []int{4 << 10, 4 << 20} {
		data := make([]byte, size)
		_, _ = rand.Read(data)
		name := fmt.Sprintf("blob-%d", size)
		if _, err := e.direct.UploadBuffer(ctx, "bench", name, data, nil); err != nil {
			b.Fatal(err)
		}
		upload := func(c *azblob.Client) func() error {
			return func() error {
				_, err := c.UploadBuffer(ctx, "bench", name+"-up", data, nil)
				return err
			}
		}
		download := func(c *azblob.Client) func() error {
			return func() error {
				res, err := c.DownloadStream(ctx, "bench", name, nil)
				if err != nil {
					return err
				}
				defer res.Body.Close()
				n, err := io.Copy(io.Discard, res.Body)
				if err == nil && n != int64(size) {
					err = fmt.Errorf("downloaded %d bytes, want %d", n, size)
				}
				return err
			}
		}
		for _, o := range []struct {
			op string
			mk func(*azblob.Client) func() error
		}{{"upload", upload}, {"download", download}} {
			op, mk := o.op, o.mk
			var direct float64
			b.Run(fmt.Sprintf("%s/size=%d/direct", op, size), func(b *testing.B) {
				b.SetBytes(int64(size))
				direct = benchkit.Measure(b, 4, mk(e.direct))
			})
			b.Run(fmt.Sprintf("%s/size=%d/gate", op, size), func(b *testing.B) {
				b.SetBytes(int64(size))
				if got := benchkit.Measure(b, 4, mk(e.gated)); direct > 0 {
					b.ReportMetric(got/direct, "fraction-of-direct")
				}
			})
		}
	}
}
