package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contoso/orderflow/localazure/stackconfig"
	"github.com/contoso/orderflow/platform/azure"
)

// fakes records what the emulators were asked and answers like them.
type fakes struct {
	mu       sync.Mutex
	created  map[string]bool
	secrets  map[string]string
	requests []string
}

func (f *fakes) record(r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
}

func (f *fakes) create(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.created[key] {
		return http.StatusConflict
	}
	f.created[key] = true
	return http.StatusCreated
}

func (f *fakes) cosmos(t *testing.T) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		if !strings.HasPrefix(r.Header.Get("Authorization"), "type%3Dmaster") && !strings.HasPrefix(r.Header.Get("Authorization"), "type=master") {
			t.Errorf("cosmos %s %s without master-key auth: %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/":
			loc := []map[string]string{{"name": "local", "databaseAccountEndpoint": srv.URL + "/"}}
			json.NewEncoder(w).Encode(map[string]any{"writableLocations": loc, "readableLocations": loc,
				"enableMultipleWriteLocations": false, "userConsistencyPolicy": map[string]string{"defaultConsistencyLevel": "Session"}})
		case r.Method == "POST" && (r.URL.Path == "/dbs" || strings.HasSuffix(r.URL.Path, "/colls")):
			var body struct {
				ID           string
				PartitionKey *struct{ Paths []string } `json:"partitionKey"`
			}
			json.NewDecoder(r.Body).Decode(&body)
			key := r.URL.Path + "/" + body.ID
			if body.PartitionKey != nil {
				key += " pk=" + strings.Join(body.PartitionKey.Paths, ",")
			}
			code := f.create(key)
			w.WriteHeader(code)
			json.NewEncoder(w).Encode(map[string]any{"id": body.ID, "_rid": "r", "_self": "s", "_etag": `"1"`, "_ts": 1})
		default:
			http.NotFound(w, r)
		}
	}))
	return srv
}

func (f *fakes) blob(t *testing.T) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		if !strings.HasPrefix(r.Header.Get("Authorization"), "SharedKey devstoreaccount1:") {
			t.Errorf("blob request without shared key: %q", r.Header.Get("Authorization"))
		}
		if r.Method != "PUT" || r.URL.Query().Get("restype") != "container" {
			http.NotFound(w, r)
			return
		}
		code := f.create("blob " + r.URL.Path)
		w.Header().Set("x-ms-error-code", map[int]string{409: "ContainerAlreadyExists"}[code])
		w.WriteHeader(code)
	}))
}

func (f *fakes) keyVault(t *testing.T) *httptest.Server {
	return httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		// As the pinned Lowkey Vault does: an api-version it does not route is refused.
		if v := r.URL.Query().Get("api-version"); v != azure.EmulatorKeyVaultAPIVersion {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"code":"BadParameter","message":"unsupported api-version `+v+`"}}`)
			return
		}
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/tenant-1", resource="https://vault.azure.net"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		name := strings.Trim(strings.TrimPrefix(r.URL.Path, "/secrets/"), "/")
		f.mu.Lock()
		defer f.mu.Unlock()
		switch r.Method {
		case "GET":
			v, ok := f.secrets[name]
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `{"error":{"code":"SecretNotFound","message":"no"}}`)
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"value": v, "id": "https://" + r.Host + "/secrets/" + name + "/1"})
		case "PUT":
			var body struct{ Value, ContentType string }
			json.NewDecoder(r.Body).Decode(&body)
			f.secrets[name] = body.Value
			json.NewEncoder(w).Encode(map[string]any{"value": body.Value, "contentType": body.ContentType, "id": "https://" + r.Host + "/secrets/" + name + "/1"})
		}
	}))
}

const testConfig = `{"LocalAzure": {
  "keyVault": {"secrets": [{"name": "receipt-signing-key", "value": "generate:32", "contentType": "application/octet-stream; base64"}]},
  "cosmos": {"databases": [{"id": "orderflow", "containers": [{"id": "orders", "partitionKeyPath": "/customerId"}]}]},
  "storage": {"containers": ["attachments", "receipts"]}
}}`

func TestSeedCreatesOnceAndIsIdempotent(t *testing.T) {
	f := &fakes{created: map[string]bool{}, secrets: map[string]string{}}
	cosmos, blob, kv := f.cosmos(t), f.blob(t), f.keyVault(t)
	defer cosmos.Close()
	defer blob.Close()
	defer kv.Close()
	env := map[string]string{
		"COSMOS_ENDPOINT": cosmos.URL + "/",
		// The Cosmos DB emulator's published well-known key.
		"COSMOS_KEY": "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==",
		// Azurite's published well-known account key.
		"STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=" + blob.URL + "/devstoreaccount1;",
		"KEYVAULT_URL":              kv.URL + "/",
	}
	cfg := testLocalAzure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var logs []string
	logf := func(f string, a ...any) { logs = append(logs, f) }
	if err := seed(ctx, cfg, func(k string) string { return env[k] }, logf); err != nil {
		t.Fatalf("seed: %v", err)
	}
	for _, want := range []string{"/dbs/orderflow", "/dbs/orderflow/colls/orders pk=/customerId", "blob /devstoreaccount1/attachments", "blob /devstoreaccount1/receipts"} {
		if !f.created[want] {
			t.Errorf("not created: %s (have %v)", want, f.created)
		}
	}
	key := f.secrets["receipt-signing-key"]
	if len(key) != 44 { // base64 of 32 bytes
		t.Fatalf("secret %q: want 32 random bytes, base64", key)
	}

	// Second run: everything exists (409s), the secret is kept.
	if err := seed(ctx, cfg, func(k string) string { return env[k] }, logf); err != nil {
		t.Fatalf("second seed: %v", err)
	}
	if f.secrets["receipt-signing-key"] != key {
		t.Fatal("the second run replaced the existing secret")
	}
	if len(logs) != 2*5 {
		t.Errorf("want 5 steps per run, logged %d", len(logs))
	}
}

func TestSeedNeedsItsSettings(t *testing.T) {
	if _, err := plan(testLocalAzure(t), func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "COSMOS_ENDPOINT") {
		t.Fatalf("want a missing-setting error, got %v", err)
	}
}

// testLocalAzure decodes testConfig's LocalAzure section, the part seeding reads.
func testLocalAzure(t *testing.T) stackconfig.LocalAzure {
	t.Helper()
	var f struct{ LocalAzure stackconfig.LocalAzure }
	if err := json.Unmarshal([]byte(testConfig), &f); err != nil {
		t.Fatal(err)
	}
	return f.LocalAzure
}

// TestPlanFromTheRepositoryConfig loads the project's own localazure.json with the
// stand-ins' strict loader, as main does, and plans one step per resource in it.
func TestPlanFromTheRepositoryConfig(t *testing.T) {
	cfg, err := stackconfig.Load("../../../localazure.json")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"COSMOS_ENDPOINT": "https://127.0.0.1:8081/", "COSMOS_KEY": "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==",
		"STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;", // Azurite's published well-known key
		"KEYVAULT_URL":              "https://127.0.0.1:8443/"}
	steps, err := plan(cfg.LocalAzure, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	la := cfg.LocalAzure
	want := len(la.KeyVault.Secrets) + len(la.Storage.Containers)
	for _, db := range la.Cosmos.Databases {
		want += 1 + len(db.Containers)
	}
	if len(steps) != want || want == 0 {
		t.Fatalf("planned %d steps, want %d (one per resource)", len(steps), want)
	}
}
