package config_test

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/contoso/orderflow/platform/config"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md's generated table")

// env returns a getenv over m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func minimal() map[string]string {
	return map[string]string{
		"KEYVAULT_URL":          "https://kv-orderflow.vault.azure.net/",
		"COSMOS_ENDPOINT":       "https://cosmos-orderflow.documents.azure.com:443/",
		"STORAGE_BLOB_ENDPOINT": "https://storderflow.blob.core.windows.net/",
		"SERVICEBUS_NAMESPACE":  "sb-orderflow.servicebus.windows.net",
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := config.Load(env(minimal()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Cosmos.Database != "orderflow" || c.Cosmos.Container != "orders" ||
		c.Storage.AttachmentsContainer != "attachments" || c.Storage.ReceiptsContainer != "receipts" ||
		c.ServiceBus.OrdersQueue != "orders" || c.ServiceBus.EventsTopic != "order-events" || c.ServiceBus.EventsSubscription != "frontend" ||
		c.KeyVault.SecretName != "receipt-signing-key" || c.LogLevel != slog.LevelInfo {
		t.Errorf("shared defaults wrong: %+v", c)
	}
	if c.Frontend.HTTPAddr != ":8080" || c.Frontend.MaxAttachmentBytes != 10<<20 || c.Frontend.MaxBodyBytes != 64<<10 ||
		strings.Join(c.Frontend.AllowedAttachmentTypes, ",") != "image/png,image/jpeg,application/pdf,text/plain" {
		t.Errorf("frontend defaults wrong: %+v", c.Frontend)
	}
	if c.Backend.HealthAddr != ":8090" || c.Backend.Concurrency != 16 || c.Backend.Prefetch != 8 || c.Frontend.ReconcileInterval != 30*time.Second ||
		c.Frontend.ReconcileMinAge != time.Minute || c.ShutdownTimeout != 25*time.Second || c.KeyVault.RefreshEvery != 5*time.Minute {
		t.Errorf("backend defaults wrong: %+v", c.Backend)
	}
}

func TestLoadOverrides(t *testing.T) {
	m := minimal()
	m["LOG_LEVEL"] = "DEBUG"
	m["WORKER_CONCURRENCY"] = "16"
	m["WORKER_PREFETCH"] = "32"
	m["RECONCILE_INTERVAL"] = "0"
	m["SERVICEBUS_NAMESPACE"] = "127.0.0.1:5671"
	m["ALLOWED_ATTACHMENT_TYPES"] = " image/png , text/csv "
	m["AZURE_FEDERATED_TOKEN_FILE"] = "/var/run/token"
	m["AZURE_CLIENT_ID"] = "cid"
	m["AZURE_TENANT_ID"] = "tid"
	m["AZURE_AUTHORITY_HOST"] = "https://127.0.0.1:8443/"
	c, err := config.Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if c.LogLevel != slog.LevelDebug || c.Backend.Concurrency != 16 || c.Backend.Prefetch != 32 || c.Frontend.ReconcileInterval != 0 ||
		c.ServiceBus.Namespace != "127.0.0.1:5671" || strings.Join(c.Frontend.AllowedAttachmentTypes, ",") != "image/png,text/csv" ||
		c.Identity != (config.Identity{ClientID: "cid", TenantID: "tid", FederatedTokenFile: "/var/run/token", AuthorityHost: "https://127.0.0.1:8443/"}) {
		t.Errorf("overrides not applied: %+v", c)
	}
}

func TestLoadEmulatorOverridesReplaceEndpoints(t *testing.T) {
	m := map[string]string{
		"KEYVAULT_URL":                 "https://localhost:8443/",
		"KEYVAULT_AUTH":                "emulator",
		"COSMOS_ENDPOINT":              "http://localhost:8081/",
		"COSMOS_KEY":                   "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==",
		"STORAGE_CONNECTION_STRING":    "UseDevelopmentStorage=true",
		"SERVICEBUS_CONNECTION_STRING": "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;",
	}
	c, err := config.Load(env(m))
	if err != nil {
		t.Fatalf("emulator configuration refused: %v", err)
	}
	if !c.KeyVault.Emulator || c.Cosmos.Key == "" || c.Storage.ConnectionString == "" || c.ServiceBus.ConnectionString == "" {
		t.Errorf("overrides lost: %+v", c)
	}
	// http for Cosmos only with a key: Entra tokens never go over plain http.
	delete(m, "COSMOS_KEY")
	if _, err := config.Load(env(m)); err == nil || !strings.Contains(err.Error(), "COSMOS_ENDPOINT is \"http://localhost:8081/\", which is not https") {
		t.Errorf("http Cosmos endpoint with Entra ID accepted: %v", err)
	}
}

func TestLoadErrorsNameVariableAndFix(t *testing.T) {
	_, err := config.Load(env(map[string]string{}))
	cerr, ok := err.(*config.Error)
	if !ok {
		t.Fatalf("err = %T %v, want *config.Error", err, err)
	}
	want := []string{
		"KEYVAULT_URL is not set: set it to the Key Vault URL, e.g. https://<vault>.vault.azure.net/ (see docs/configuration.md)",
		"COSMOS_ENDPOINT is not set: set it to the Cosmos DB account endpoint, e.g. https://<account>.documents.azure.com:443/ (see docs/configuration.md)",
		"STORAGE_BLOB_ENDPOINT is not set: set it to the blob endpoint, e.g. https://<account>.blob.core.windows.net/ (see docs/configuration.md)",
		"SERVICEBUS_NAMESPACE is not set: set it to the fully qualified namespace, e.g. <namespace>.servicebus.windows.net (see docs/configuration.md)",
	}
	if strings.Join(cerr.Problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems =\n%s\nwant\n%s", strings.Join(cerr.Problems, "\n"), strings.Join(want, "\n"))
	}
	if !strings.HasPrefix(err.Error(), "configuration: 4 problems:\n  KEYVAULT_URL is not set") {
		t.Errorf("Error() = %q", err.Error())
	}

	bad := minimal()
	bad["WORKER_CONCURRENCY"] = "many"
	bad["LOG_LEVEL"] = "loud"
	bad["SHUTDOWN_TIMEOUT"] = "30"
	bad["KEYVAULT_URL"] = "http://kv.example/"
	bad["SERVICEBUS_NAMESPACE"] = "sb://sb-orderflow.servicebus.windows.net/"
	bad["AZURE_FEDERATED_TOKEN_FILE"] = "/token"
	bad["KEYVAULT_AUTH"] = "yes"
	bad["ALLOWED_ATTACHMENT_TYPES"] = "image/png,notatype"
	bad["SSL_CERT_FILE"] = filepath.Join(t.TempDir(), "missing.pem")
	_, err = config.Load(env(bad))
	msg := err.Error()
	for _, frag := range []string{
		`WORKER_CONCURRENCY is "many", which is not valid: set it to an integer between 1 and 256 (see docs/configuration.md)`,
		`LOG_LEVEL is "loud", which is not valid: set it to debug, info, warn or error`,
		`SHUTDOWN_TIMEOUT is "30", which is not valid: set it to a Go duration between 1s and 10m, e.g. 25s`,
		`KEYVAULT_URL is "http://kv.example/", which is not https`,
		`SERVICEBUS_NAMESPACE is "sb://sb-orderflow.servicebus.windows.net/", a URL: set it to the bare host name`,
		`AZURE_CLIENT_ID is not set: AZURE_FEDERATED_TOKEN_FILE is set, so set it to the managed identity's client ID`,
		`AZURE_TENANT_ID is not set: AZURE_FEDERATED_TOKEN_FILE is set, so set it to the Entra tenant ID`,
		`KEYVAULT_AUTH is "yes", which is not valid`,
		`ALLOWED_ATTACHMENT_TYPES is "notatype", which is not valid`,
		`SSL_CERT_FILE names`,
	} {
		if !strings.Contains(msg, frag) {
			t.Errorf("error lacks %q:\n%s", frag, msg)
		}
	}
	if !strings.Contains(msg, "10 problems") {
		t.Errorf("want all 10 problems reported at once:\n%s", msg)
	}
}

func TestVariablesWellFormed(t *testing.T) {
	seen := map[string]bool{}
	name := regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	for _, v := range config.Variables() {
		if seen[v.Name] || !name.MatchString(v.Name) || v.Description == "" || (v.Fix == "" && v.Min == "") {
			t.Errorf("bad variable entry %+v", v)
		}
		seen[v.Name] = true
		if v.Service != config.Both && v.Service != config.Frontend && v.Service != config.Backend {
			t.Errorf("%s: service %q", v.Name, v.Service)
		}
	}
}

// TestNamesDocCrossCheck keeps the shared variables and default names in step with
// docs/names.md, which every layer (Bicep, Kustomize, local stack) follows.
func TestNamesDocCrossCheck(t *testing.T) {
	b, err := os.ReadFile("../../docs/names.md")
	if err != nil {
		t.Skipf("docs/names.md not found: %v", err)
	}
	doc := string(b)
	vars := map[string]config.Var{}
	for _, v := range config.Variables() {
		vars[v.Name] = v
	}
	// Every variable docs/names.md lists in backquotes inside its env table is known.
	section := doc[strings.Index(doc, "## Environment variables"):]
	for _, m := range regexp.MustCompile("`([A-Z][A-Z0-9_]{3,})`").FindAllStringSubmatch(section, -1) {
		if _, ok := vars[m[1]]; !ok {
			t.Errorf("docs/names.md lists %s, which config does not know", m[1])
		}
	}
	// The defaults equal the names table.
	for name, want := range map[string]string{
		"COSMOS_DATABASE": "orderflow", "COSMOS_CONTAINER": "orders", "ATTACHMENTS_CONTAINER": "attachments",
		"RECEIPTS_CONTAINER": "receipts", "ORDERS_QUEUE": "orders", "EVENTS_TOPIC": "order-events",
		"EVENTS_SUBSCRIPTION": "frontend", "RECEIPT_KEY_SECRET": "receipt-signing-key",
	} {
		if vars[name].Default != want {
			t.Errorf("%s default = %q, want %q", name, vars[name].Default, want)
		}
		if !strings.Contains(doc, "`"+want+"`") {
			t.Errorf("docs/names.md no longer mentions `%s`", want)
		}
	}
}

// TestConfigurationDoc checks that docs/configuration.md carries the generated table.
func TestConfigurationDoc(t *testing.T) {
	path := "../../docs/configuration.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	const begin, end = "<!-- BEGIN GENERATED: platform/config.Markdown -->\n", "<!-- END GENERATED -->"
	doc := string(b)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the generated-table markers", path)
	}
	want := doc[:i+len(begin)] + config.Markdown() + doc[j:]
	if want == doc {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is out of date: run go test ./config -run TestConfigurationDoc -update", path)
}

func TestExitCodeMarksConfigurationErrors(t *testing.T) {
	_, err := config.Load(func(string) string { return "" })
	if err == nil {
		t.Fatal("Load with no variables succeeded")
	}
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{err, config.ExitConfig},
		{fmt.Errorf("starting: %w", err), config.ExitConfig},
		{errors.New("listen on :8080: address in use"), 1},
	} {
		if got := config.ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// TestLoadForIgnoresTheOtherServicesVariables: a bad backend-only setting stops the
// backend, not the frontend; shared ones stop both.
func TestLoadForIgnoresTheOtherServicesVariables(t *testing.T) {
	base := map[string]string{
		"KEYVAULT_URL": "https://kv.example/", "COSMOS_ENDPOINT": "https://cosmos.example/",
		"STORAGE_BLOB_ENDPOINT": "https://blob.example/", "SERVICEBUS_NAMESPACE": "sb.example",
		"COSMOS_DATABASE": "orderflow", "COSMOS_CONTAINER": "orders", "ATTACHMENTS_CONTAINER": "attachments",
		"RECEIPTS_CONTAINER": "receipts", "ORDERS_QUEUE": "orders", "EVENTS_TOPIC": "order-events",
		"EVENTS_SUBSCRIPTION": "frontend", "RECEIPT_KEY_SECRET": "receipt-signing-key",
	}
	env := func(extra map[string]string) func(string) string {
		return func(k string) string {
			if v, ok := extra[k]; ok {
				return v
			}
			return base[k]
		}
	}
	if _, err := config.LoadFor(config.Frontend, env(nil)); err != nil {
		t.Fatalf("a complete environment: %v", err)
	}
	bad := env(map[string]string{"WORKER_CONCURRENCY": "many"})
	if _, err := config.LoadFor(config.Frontend, bad); err != nil {
		t.Errorf("the frontend refused the backend's WORKER_CONCURRENCY: %v", err)
	}
	if _, err := config.LoadFor(config.Backend, bad); err == nil || !strings.Contains(err.Error(), "WORKER_CONCURRENCY") {
		t.Errorf("the backend accepted WORKER_CONCURRENCY=many: %v", err)
	}
	if _, err := config.Load(bad); err == nil {
		t.Error("Load (both services) accepted WORKER_CONCURRENCY=many")
	}
	shared := env(map[string]string{"COSMOS_ENDPOINT": ""})
	for _, s := range []string{config.Frontend, config.Backend} {
		if _, err := config.LoadFor(s, shared); err == nil || !strings.Contains(err.Error(), "COSMOS_ENDPOINT") {
			t.Errorf("%s started without COSMOS_ENDPOINT: %v", s, err)
		}
	}
}

// TestBoundsComeFromTheRegistry: for every bounded variable, Load accepts exactly
// Min and Max and refuses what lies outside, and the message says those bounds.
func TestBoundsComeFromTheRegistry(t *testing.T) {
	for _, v := range config.Variables() {
		if v.Min == "" {
			continue
		}
		outside := []string{}
		if d, err := time.ParseDuration(v.Min); err == nil {
			hi, _ := time.ParseDuration(v.Max)
			outside = append(outside, (d - time.Millisecond).String(), (hi + time.Second).String())
		} else {
			lo, _ := strconv.ParseInt(v.Min, 10, 64)
			hi, _ := strconv.ParseInt(v.Max, 10, 64)
			outside = append(outside, strconv.FormatInt(lo-1, 10), strconv.FormatInt(hi+1, 10))
		}
		for _, in := range []string{v.Min, v.Max} {
			if err := problemWith(v.Name, in); err != "" {
				t.Errorf("%s=%s (a bound) refused: %s", v.Name, in, err)
			}
		}
		for _, out := range outside {
			err := problemWith(v.Name, out)
			if err == "" || !strings.Contains(err, v.Min) || !strings.Contains(err, v.Max) {
				t.Errorf("%s=%s (outside %s..%s): %q", v.Name, out, v.Min, v.Max, err)
			}
		}
	}
}

// problemWith is the configuration problem reported about name when it is set to
// value, "" if none.
func problemWith(name, value string) string {
	_, err := config.Load(func(k string) string {
		if k == name {
			return value
		}
		return ""
	})
	if err == nil {
		return ""
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if strings.Contains(line, name+" is") {
			return line
		}
	}
	return ""
}

// BACKEND_HEALTH_URL is optional, may be plain http (a ClusterIP Service, no
// credential sent), and must be an absolute URL when set.
func TestBackendHealthURL(t *testing.T) {
	c, err := config.Load(env(minimal()))
	if err != nil || c.Frontend.BackendHealthURL != "" {
		t.Fatalf("unset: %q, %v", c.Frontend.BackendHealthURL, err)
	}
	m := minimal()
	m["BACKEND_HEALTH_URL"] = "http://backend.orderflow.svc.cluster.local:8090"
	if c, err := config.Load(env(m)); err != nil || c.Frontend.BackendHealthURL != m["BACKEND_HEALTH_URL"] {
		t.Errorf("http URL: %q, %v", c.Frontend.BackendHealthURL, err)
	}
	m["BACKEND_HEALTH_URL"] = "backend:8090"
	if _, err := config.Load(env(m)); err == nil || !strings.Contains(err.Error(), `BACKEND_HEALTH_URL is "backend:8090", not an absolute URL`) {
		t.Errorf("host:port accepted or wrong message: %v", err)
	}
}
