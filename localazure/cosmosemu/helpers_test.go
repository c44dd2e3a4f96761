package cosmosemu

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/contoso/orderflow/localazure/authz"
	"github.com/contoso/orderflow/localazure/authz/authztest"
	"github.com/contoso/orderflow/localazure/tlsca"
)

// Principals used by the Entra tests.
const (
	oidContributor = "00000000-0000-0000-0000-0000000000c1"
	oidReader      = "00000000-0000-0000-0000-0000000000r1"
	oidNobody      = "00000000-0000-0000-0000-0000000000n1"
	oidOtherColl   = "00000000-0000-0000-0000-0000000000o1"
)

var (
	caOnce  sync.Once
	testCA  *tlsca.CA
	issOnce sync.Once
	issuer  *authztest.Issuer
)

func sharedCA(t testing.TB) *tlsca.CA {
	caOnce.Do(func() {
		ca, err := tlsca.LoadOrCreate("")
		if err != nil {
			t.Fatal(err)
		}
		testCA = ca
	})
	return testCA
}

func sharedIssuer() *authztest.Issuer {
	issOnce.Do(func() { issuer = authztest.NewIssuer() })
	return issuer
}

// env is one server on a TLS listener plus clients for it.
type env struct {
	t        testing.TB
	s        *Server
	srv      *httptest.Server
	endpoint string // https://localhost:<port>/
	hc       *http.Client
}

func newEnv(t testing.TB, mutate func(*Options)) *env {
	t.Helper()
	ca := sharedCA(t)
	iss := sharedIssuer()
	opts := Options{
		Verifier: iss,
		Policy: authz.NewPolicy([]authz.Assignment{
			{PrincipalID: oidContributor, Role: authz.CosmosDataContributor, Scope: "cosmos"},
			{PrincipalID: oidReader, Role: authz.CosmosDataReader, Scope: "cosmos/dbs/orderflow"},
			{PrincipalID: oidOtherColl, Role: authz.CosmosDataContributor, Scope: "cosmos/dbs/orderflow/colls/other"},
		}),
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Databases: []Database{{ID: "orderflow", Containers: []Container{{"orders", "/customerId"}, {"other", "/pk"}}}},
	}
	if mutate != nil {
		mutate(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(s.Handler())
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(func() { srv.Close(); _ = s.Close() })
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	hc := &http.Client{Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: ca.Pool()},
		MaxIdleConnsPerHost: 64,
	}}
	return &env{t: t, s: s, srv: srv, endpoint: "https://localhost:" + port + "/", hc: hc}
}

func (e *env) clientOptions() *azcosmos.ClientOptions {
	return &azcosmos.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: e.hc}}
}

func (e *env) keyClient() *azcosmos.Client {
	cred, err := azcosmos.NewKeyCredential(EmulatorKey)
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := azcosmos.NewClientWithKey(e.endpoint, cred, e.clientOptions())
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) tokenClient(oid string) *azcosmos.Client {
	c, err := azcosmos.NewClient(e.endpoint, sharedIssuer().Credential(oid), e.clientOptions())
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) container(c *azcosmos.Client, db, coll string) *azcosmos.ContainerClient {
	cc, err := c.NewContainer(db, coll)
	if err != nil {
		e.t.Fatal(err)
	}
	return cc
}

// do sends a raw request signed with the master key (key "" = emulator key),
// for protocol details the Go SDK does not expose.
func (e *env) do(method, path string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, strings.TrimSuffix(e.endpoint, "/")+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("x-ms-date", date)
	req.Header.Set("x-ms-version", "2020-11-05")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if _, ok := hdr["Authorization"]; !ok {
		segs, _ := splitPath(path)
		typ, link := resourceOf(segs)
		req.Header.Set("Authorization", masterAuth(EmulatorKey, method, typ, link, req.Header.Get("x-ms-date")))
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func masterAuth(key, method, typ, link, date string) string {
	k, _ := base64.StdEncoding.DecodeString(key)
	m := hmac.New(sha256.New, k)
	m.Write([]byte(strings.ToLower(method) + "\n" + strings.ToLower(typ) + "\n" + link + "\n" + strings.ToLower(date) + "\n\n"))
	return url.QueryEscape("type=master&ver=1.0&sig=" + base64.StdEncoding.EncodeToString(m.Sum(nil)))
}

// status extracts the HTTP status of an SDK error (0 when err is nil).
func status(t testing.TB, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("not a ResponseError: %v", err)
	}
	return re.StatusCode
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ctx() context.Context { return context.Background() }
