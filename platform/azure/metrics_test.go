package azure

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/contoso/orderflow/platform/config"
	"github.com/contoso/orderflow/platform/metrics"
)

// TestDependencyMetricsPerCall drives real SDK clients against local servers and
// checks that each operation is one observation with its final status, its
// operation named from the REST shape without names or IDs.
func TestDependencyMetricsPerCall(t *testing.T) {
	m := metrics.New(metrics.NewRegistry(), metrics.Backend)

	// Key Vault, emulator mode: the first answer is a 401 challenge, which the SDK
	// answers with a token; the per-call policy sees only the final 200.
	kv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"value":"s3cret","id":"https://%s/secrets/receipt-signing-key/v1","attributes":{"enabled":true}}`, r.Host)
	}))
	defer kv.Close()
	secrets, err := newSecrets(config.KeyVault{URL: kv.URL, Emulator: true}, nil, nil,
		[]policy.Policy{newMetricsPolicy(m, metrics.DependencyKeyVault, keyVaultOperation)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.GetSecret(context.Background(), "receipt-signing-key", "", nil); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.DependencyCalls.WithLabelValues(metrics.DependencyKeyVault, "get_secrets", metrics.OutcomeOK, "200")); got != 1 {
		t.Errorf("keyvault get_secrets ok 200 = %v, want 1 (the challenge is not a call of its own)", got)
	}

	// Blob: a 404 is an answer (a receipt not issued yet), so it counts as ok.
	blobSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ms-error-code", "BlobNotFound")
		w.WriteHeader(http.StatusNotFound)
	}))
	defer blobSrv.Close()
	conn := "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=" + blobSrv.URL + "/devstoreaccount1;"
	blobs, err := newBlob(config.Storage{ConnectionString: conn}, nil, NewHTTPClient(mustTLS(t)),
		[]policy.Policy{newMetricsPolicy(m, metrics.DependencyBlob, blobOperation)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := blobs.DownloadStream(context.Background(), "receipts", "order-1.json", nil); err == nil {
		t.Fatal("download of a missing blob succeeded")
	}
	if got := testutil.ToFloat64(m.DependencyCalls.WithLabelValues(metrics.DependencyBlob, "get_blob", metrics.OutcomeOK, "404")); got != 1 {
		t.Errorf("blob get_blob ok 404 = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(m.DependencyDuration); n != 2 {
		t.Errorf("%d duration series, want 2 (keyvault get_secrets, blob get_blob)", n)
	}
}

func TestOperationNames(t *testing.T) {
	req := func(method, url string, h map[string]string) *http.Request {
		r := httptest.NewRequest(method, url, nil)
		for k, v := range h {
			r.Header.Set(k, v)
		}
		return r
	}
	cases := []struct {
		op   func(*http.Request) string
		r    *http.Request
		want string
	}{
		{cosmosOperation, req("GET", "https://c/dbs/orderflow/colls/orders/docs/ord-123", nil), "read_document"},
		{cosmosOperation, req("POST", "https://c/dbs/orderflow/colls/orders/docs", map[string]string{"x-ms-documentdb-isquery": "True"}), "query_document"},
		{cosmosOperation, req("POST", "https://c/dbs/orderflow/colls/orders/docs", nil), "create_document"},
		{cosmosOperation, req("PUT", "https://c/dbs/orderflow/colls/orders/docs/ord-123", nil), "replace_document"},
		{cosmosOperation, req("PATCH", "https://c/dbs/orderflow/colls/orders/docs/ord-123", nil), "patch_document"},
		{cosmosOperation, req("GET", "https://c/dbs/orderflow/colls/orders/pkranges", nil), "list_partition_key_ranges"},
		{cosmosOperation, req("GET", "https://c/dbs/orderflow/colls/orders", nil), "read_collection"},
		{cosmosOperation, req("GET", "https://c/", nil), "read_account"},
		{cosmosOperation, req("GET", "https://c/dbs/x/weird/y", nil), "read_other"},
		{blobOperation, req("PUT", "https://b/attachments/ord-1/photo.png?comp=block&blockid=AAA", nil), "put_blob_block"},
		{blobOperation, req("PUT", "https://b/attachments/ord-1/photo.png?comp=blocklist", nil), "put_blob_blocklist"},
		{blobOperation, req("GET", "https://b/receipts/ord-1.json", nil), "get_blob"},
		{blobOperation, req("GET", "https://b/receipts?restype=container&comp=list", nil), "get_container_list"},
		{blobOperation, req("GET", "https://b/receipts/x?comp=made-up", nil), "get_blob_other"},
		{keyVaultOperation, req("GET", "https://kv/secrets/receipt-signing-key/", nil), "get_secrets"},
		{keyVaultOperation, req("GET", "https://kv/secrets/receipt-signing-key/abc123", nil), "get_secrets"},
		{keyVaultOperation, req("GET", "https://kv/secrets/receipt-signing-key/versions", nil), "get_secrets_versions"},
	}
	for _, c := range cases {
		if got := c.op(c.r); got != c.want {
			t.Errorf("%s %s = %q, want %q", c.r.Method, c.r.URL, got, c.want)
		}
	}
}

func TestCallOutcome(t *testing.T) {
	for status, want := range map[int]string{200: "ok", 201: "ok", 304: "ok", 404: "ok", 409: "ok", 412: "ok",
		400: "error", 401: "error", 403: "error", 429: "error", 500: "error", 503: "error"} {
		if got := callOutcome(status, nil); got != want {
			t.Errorf("callOutcome(%d) = %s, want %s", status, got, want)
		}
	}
	if callOutcome(0, context.DeadlineExceeded) != "error" || statusCode(0) != "none" {
		t.Error("a call without a response is not an error with code none")
	}
}

// The policy labels every SDK call, so naming a Cosmos DB call must not allocate.
func TestCosmosOperationAllocatesNothing(t *testing.T) {
	r := httptest.NewRequest("PUT", "https://c/dbs/orderflow/colls/orders/docs/ord-123", nil)
	if n := testing.AllocsPerRun(100, func() { _ = cosmosOperation(r) }); n != 0 {
		t.Errorf("cosmosOperation allocates %v times per call, want 0", n)
	}
}

func TestShapeOf(t *testing.T) {
	for path, want := range map[string]pathShape{
		"":                    {},
		"/":                   {},
		"/dbs":                {n: 1, first: "dbs", last: "dbs"},
		"//dbs//x/":           {n: 2, first: "dbs", prev: "dbs", last: "x"},
		"/secrets/k/versions": {n: 3, first: "secrets", prev: "k", last: "versions"},
	} {
		if got := shapeOf(path); got != want {
			t.Errorf("shapeOf(%q) = %+v, want %+v", path, got, want)
		}
	}
}
