package stackconfig_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contoso/orderflow/localazure/authz"
	"github.com/contoso/orderflow/localazure/stackconfig"
)

func repoConfig(t *testing.T) (string, *stackconfig.Config) {
	t.Helper()
	path, err := stackconfig.Find(".")
	if err != nil {
		t.Fatal(err)
	}
	c, err := stackconfig.Load(path)
	if err != nil {
		t.Fatalf("the repository's %s does not load:\n%v", path, err)
	}
	return path, c
}

// TestRepositoryConfig pins the least-privilege assignments the AKS deployment makes.
func TestRepositoryConfig(t *testing.T) {
	_, c := repoConfig(t)
	fe, ok := c.Workload("frontend")
	if !ok || fe.Namespace != "orderflow" || fe.ServiceAccount != "frontend" || fe.Subject() != "system:serviceaccount:orderflow:frontend" {
		t.Fatalf("frontend workload = %+v", fe)
	}
	be, _ := c.Workload("backend")
	p := c.Policy()
	fo, bo := strings.ToLower(fe.ObjectID), strings.ToLower(be.ObjectID)
	cases := []struct {
		who, scope, role string
		want             bool
	}{
		{fo, "keyvault/secrets/receipt-signing-key", authz.KeyVaultSecretsUser, true},
		{fo, "keyvault/secrets/receipt-signing-key", authz.KeyVaultSecretsOfficer, false},
		{fo, "cosmos/dbs/orderflow/colls/orders", authz.CosmosDataContributor, true},
		{fo, "storage/attachments", authz.StorageBlobDataContributor, true},
		{fo, "storage/receipts", authz.StorageBlobDataContributor, false},
		{fo, "storage/receipts", authz.StorageBlobDataReader, true},
		{fo, "servicebus/orders", authz.ServiceBusDataSender, true},
		{fo, "servicebus/orders", authz.ServiceBusDataReceiver, false},
		{fo, "servicebus/order-events/subscriptions/frontend", authz.ServiceBusDataReceiver, true},
		{fo, "servicebus/order-events", authz.ServiceBusDataSender, false},
		{bo, "keyvault", authz.KeyVaultSecretsUser, true},
		{bo, "cosmos/dbs/orderflow", authz.CosmosDataContributor, true},
		{bo, "storage/receipts", authz.StorageBlobDataContributor, true},
		{bo, "storage/attachments", authz.StorageBlobDataContributor, false},
		{bo, "storage/attachments", authz.StorageBlobDataReader, true},
		{bo, "servicebus/orders", authz.ServiceBusDataReceiver, true},
		{bo, "servicebus/orders", authz.ServiceBusDataSender, false},
		{bo, "servicebus/order-events", authz.ServiceBusDataSender, true},
		{bo, "servicebus/order-events/subscriptions/frontend", authz.ServiceBusDataReceiver, false},
	}
	for _, tc := range cases {
		if got := p.Allowed(tc.who, tc.scope, tc.role); got != tc.want {
			t.Errorf("Allowed(%s, %s, %s) = %v, want %v", tc.who, tc.scope, tc.role, got, tc.want)
		}
	}
	// secrets-writer, the labs' local-only operator identity (`localazure secret set`),
	// may write the signing key and nothing else.
	sw, ok := c.Workload("secrets-writer")
	if !ok {
		t.Fatal("no secrets-writer workload")
	}
	so := strings.ToLower(sw.ObjectID)
	for _, tc := range []struct {
		scope, role string
		want        bool
	}{
		{"keyvault/secrets/receipt-signing-key", authz.KeyVaultSecretsOfficer, true},
		{"keyvault/secrets/other", authz.KeyVaultSecretsOfficer, false},
		{"keyvault", authz.KeyVaultSecretsOfficer, false},
		{"servicebus/orders", authz.ServiceBusDataReceiver, false},
	} {
		if got := p.Allowed(so, tc.scope, tc.role); got != tc.want {
			t.Errorf("secrets-writer: Allowed(%s, %s) = %v, want %v", tc.scope, tc.role, got, tc.want)
		}
	}
	if n := len(c.LocalAzure.RoleAssignments); n != 13 {
		t.Errorf("%d role assignments, want the 12 of the AKS deployment and secrets-writer's", n)
	}
	s := c.LocalAzure.KeyVault.Secrets
	if len(s) != 1 || s[0].Name != "receipt-signing-key" || !s[0].Generated() {
		t.Fatalf("secrets = %+v, want receipt-signing-key generated", s)
	}
	v1, err := s[0].ResolveValue(nil)
	if err != nil {
		t.Fatal(err)
	}
	v2, _ := s[0].ResolveValue(nil)
	if raw, err := base64.StdEncoding.DecodeString(v1); err != nil || len(raw) != 32 || v1 == v2 {
		t.Fatalf("generated values %q, %q: want two different base64 encodings of 32 bytes", v1, v2)
	}
	if db := c.LocalAzure.Cosmos.Databases; len(db) != 1 || db[0].ID != "orderflow" || db[0].Containers[0].PartitionKeyPath != "/customerId" {
		t.Fatalf("cosmos = %+v", db)
	}
	ns := c.UserConfig.Namespaces[0]
	q := ns.Queues[0]
	if q.Name != "orders" || q.Properties.MaxDeliveryCount != 10 || q.Properties.LockDuration != "PT1M" ||
		!q.Properties.RequiresDuplicateDetection || q.Properties.DuplicateDetectionHistoryTimeWindow != "PT10M" ||
		!q.Properties.DeadLetteringOnMessageExpiration {
		t.Errorf("orders queue = %+v", q)
	}
	if tp := ns.Topics[0]; tp.Name != "order-events" || tp.Subscriptions[0].Name != "frontend" {
		t.Errorf("topic = %+v", tp)
	}
	// The ports are the file's (the docs suggest changing them when one is taken),
	// so only their shape is pinned: every stand-in has one, and no two share one.
	seen := map[int]string{}
	for _, u := range c.StandInPorts() {
		if u.Port < 1 || u.Port > 65535 || seen[u.Port] != "" {
			t.Errorf("%s = %d (also %s)", u.Field, u.Port, seen[u.Port])
		}
		seen[u.Port] = u.Field
	}
	// Each service is told where to listen under its own variable, and the page's
	// address is the one announced.
	if fe.Listen["HTTP_ADDR"] == 0 || fe.Open != "HTTP_ADDR" || be.Listen["HEALTH_ADDR"] == 0 {
		t.Errorf("listen: frontend %v open %q, backend %v", fe.Listen, fe.Open, be.Listen)
	}
}

func TestFindWalksUp(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := stackconfig.Find(deep); err == nil || !strings.Contains(err.Error(), "pass --config") {
		t.Fatalf("no file: err = %v", err)
	}
	want := filepath.Join(root, stackconfig.FileName)
	os.WriteFile(want, []byte("{}"), 0o644)
	if got, err := stackconfig.Find(deep); err != nil || got != want {
		t.Fatalf("Find = %q, %v; want %q", got, err, want)
	}
}

// mutate loads the repository's file as generic JSON, applies f, and parses the result.
func mutate(t *testing.T, f func(m map[string]any)) error {
	t.Helper()
	path, _ := repoConfig(t)
	data, _ := os.ReadFile(path)
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, _ := json.Marshal(m)
	_, err := stackconfig.Parse("localazure.json", out)
	return err
}

func la(m map[string]any) map[string]any { return m["LocalAzure"].(map[string]any) }
func item(m map[string]any, key string, i int) map[string]any {
	return m[key].([]any)[i].(map[string]any)
}

func TestValidationMessages(t *testing.T) {
	cases := []struct {
		name string
		f    func(m map[string]any)
		want []string // each must appear, exactly, in the error
	}{
		{"unknown role", func(m map[string]any) { item(la(m), "roleAssignments", 2)["role"] = "Key Vault Reader" },
			[]string{`localazure.json: LocalAzure.roleAssignments[2].role: "Key Vault Reader" is not a role the stand-ins know; use one of: "Key Vault Secrets User", "Key Vault Secrets Officer", "Key Vault Administrator", "Cosmos DB Built-in Data Reader"`}},
		{"role outside its service", func(m map[string]any) { item(la(m), "roleAssignments", 0)["scope"] = "servicebus/orders" },
			[]string{`LocalAzure.roleAssignments[0].scope: "servicebus/orders" is outside Key Vault, but "Key Vault Secrets User" is a Key Vault role; use "keyvault" or a scope below it`}},
		{"unknown principal", func(m map[string]any) { item(la(m), "roleAssignments", 1)["principal"] = "fronend" },
			[]string{`LocalAzure.roleAssignments[1].principal: "fronend" is neither a workload name nor a workload's objectId; use one of: "frontend", "backend", "secrets-writer" (did you mean "frontend"?)`}},
		{"undeclared queue", func(m map[string]any) { item(la(m), "roleAssignments", 4)["scope"] = "servicebus/order" },
			[]string{`LocalAzure.roleAssignments[4].scope: "servicebus/order" names entity "order", which UserConfig.Namespaces[0] declares neither as a queue nor as a topic; declare it or use one of: "order-events", "orders"`}},
		{"undeclared subscription", func(m map[string]any) {
			item(la(m), "roleAssignments", 5)["scope"] = "servicebus/order-events/subscriptions/backend"
		}, []string{`"servicebus/order-events/subscriptions/backend" names subscription "backend", which topic "order-events" does not declare; use one of: "frontend"`}},
		{"queue has no subscriptions", func(m map[string]any) {
			item(la(m), "roleAssignments", 5)["scope"] = "servicebus/orders/subscriptions/x"
		}, []string{`names subscriptions of "orders", which is a queue`}},
		{"undeclared database", func(m map[string]any) { item(la(m), "roleAssignments", 1)["scope"] = "cosmos/dbs/shop" },
			[]string{`LocalAzure.roleAssignments[1].scope: "cosmos/dbs/shop" names database "shop", which LocalAzure.cosmos.databases does not declare; declare it or use one of: "orderflow"`}},
		{"undeclared blob container", func(m map[string]any) { item(la(m), "roleAssignments", 2)["scope"] = "storage/attachment" },
			[]string{`"storage/attachment" names blob container "attachment", which LocalAzure.storage.containers does not declare`}},
		{"bad scope root", func(m map[string]any) { item(la(m), "roleAssignments", 2)["scope"] = "blob/attachments" },
			[]string{`LocalAzure.roleAssignments[2].scope: "blob/attachments" does not start with a stand-in; use keyvault, cosmos, servicebus or storage`}},
		{"duplicate assignment", func(m map[string]any) {
			ras := la(m)["roleAssignments"].([]any)
			la(m)["roleAssignments"] = append(ras, map[string]any{"principal": "bfd2dc81-e66a-472c-b809-0c634d4a4723", "role": "Key Vault Secrets User", "scope": "/keyvault/"})
		}, []string{`LocalAzure.roleAssignments[13]: duplicates LocalAzure.roleAssignments[0]; remove one`}},
		{"listen reference to an unknown workload", func(m map[string]any) {
			item(la(m), "workloads", 0)["env"] = map[string]any{"BACKEND_HEALTH_URL": "http://${backnd.HEALTH_ADDR}"}
		}, []string{`LocalAzure.workloads[0].env.BACKEND_HEALTH_URL: ${backnd.HEALTH_ADDR} names workload "backnd", which is not in LocalAzure.workloads ("frontend", "backend", "secrets-writer")`}},
		{"listen reference to an undeclared variable", func(m map[string]any) {
			la(m)["env"].(map[string]any)["X"] = "${backend.HTTP_ADDR}"
		}, []string{`LocalAzure.env.X: ${backend.HTTP_ADDR}: workload "backend" has no listen variable HTTP_ADDR (it has "HEALTH_ADDR")`}},
		{"malformed listen reference", func(m map[string]any) {
			item(la(m), "workloads", 0)["env"] = map[string]any{"BACKEND_HEALTH_URL": "http://${backend}"}
		}, []string{`LocalAzure.workloads[0].env.BACKEND_HEALTH_URL: "http://${backend}" has a "${" that is not a listen reference; write ${workload.VARIABLE}, e.g. ${backend.HEALTH_ADDR}`}},
		{"unknown field, case", func(m map[string]any) {
			w := item(la(m), "workloads", 1)
			w["clientID"] = w["clientId"]
			delete(w, "clientId")
		}, []string{
			`LocalAzure.workloads[1].clientID: unknown field (names are case-sensitive: did you mean "clientId"?)`,
		}},
		{"unknown field, typo", func(m map[string]any) { la(m)["roleAsignments"] = []any{} },
			[]string{`LocalAzure.roleAsignments: unknown field (did you mean "roleAssignments"?); the fields here are: tenantId, ports,`}},
		{"unknown section", func(m map[string]any) { m["Localazure"] = map[string]any{} },
			[]string{`localazure.json: Localazure: unknown top-level section; the file has UserConfig (the Service Bus emulator's Config.json section) and LocalAzure (names are case-sensitive: did you mean "LocalAzure"?)`}},
		{"wrong type with index", func(m map[string]any) {
			item(la(m), "workloads", 0)["federatedCredentials"] = []any{map[string]any{"name": 7}}
		},
			[]string{`LocalAzure.workloads[0].federatedCredentials[0].name: must be a string, not the number 7`}},
		{"port as string", func(m map[string]any) { la(m)["ports"].(map[string]any)["cosmos"] = "8081" },
			[]string{`LocalAzure.ports.cosmos: must be a number, not the string "8081"`}},
		{"port clash", func(m map[string]any) {
			la(m)["ports"].(map[string]any)["keyVault"] = 8400.0
			la(m)["ports"].(map[string]any)["identity"] = 8400.0
		},
			[]string{`LocalAzure.ports.keyVault: port 8400 is also LocalAzure.ports.identity; give each service its own port`}},
		{"default port clash", func(m map[string]any) {
			delete(la(m)["ports"].(map[string]any), "identity")
			la(m)["ports"].(map[string]any)["cosmos"] = float64(stackconfig.DefaultIdentityPort)
		}, []string{`LocalAzure.ports.cosmos: port 8400 is also LocalAzure.ports.identity; give each service its own port`}},
		{"listen clashes with a stand-in", func(m map[string]any) {
			la(m)["ports"].(map[string]any)["cosmos"] = 7001.0
			item(la(m), "workloads", 1)["listen"] = map[string]any{"HEALTH_ADDR": 7001.0}
		}, []string{`LocalAzure.workloads[1].listen.HEALTH_ADDR: port 7001 is also LocalAzure.ports.cosmos; give each listener its own port`}},
		{"listen clashes with another workload", func(m map[string]any) {
			item(la(m), "workloads", 0)["listen"] = map[string]any{"HTTP_ADDR": 7002.0}
			item(la(m), "workloads", 1)["listen"] = map[string]any{"HEALTH_ADDR": 7002.0}
		}, []string{`LocalAzure.workloads[1].listen.HEALTH_ADDR: port 7002 is also LocalAzure.workloads[0].listen.HTTP_ADDR; give each listener its own port`}},
		{"listen name and range", func(m map[string]any) {
			item(la(m), "workloads", 1)["listen"] = map[string]any{"HEALTH-ADDR": 7003.0, "AZURE_CLIENT_ID": 7004.0, "PPROF_ADDR": 70000.0}
		}, []string{
			`LocalAzure.workloads[1].listen.HEALTH-ADDR: is not an environment variable name`,
			`LocalAzure.workloads[1].listen.AZURE_CLIENT_ID: is set by the local stack itself`,
			`LocalAzure.workloads[1].listen.PPROF_ADDR: 70000 is not a TCP port; use 1 to 65535`,
		}},
		{"listen also in env", func(m map[string]any) { item(la(m), "workloads", 0)["env"] = map[string]any{"HTTP_ADDR": ":9000"} },
			[]string{`LocalAzure.workloads[0].listen.HTTP_ADDR: is also set in env; the listen port gives it its value, so remove it from env`}},
		{"open not a listen variable", func(m map[string]any) { item(la(m), "workloads", 0)["open"] = "HTTP_PORT" },
			[]string{`LocalAzure.workloads[0].open: "HTTP_PORT" is not one of this workload's listen variables ("HTTP_ADDR"); name one of them, or leave it out`}},
		{"port range", func(m map[string]any) { la(m)["ports"].(map[string]any)["blob"] = 70000.0 },
			[]string{`LocalAzure.ports.blob: 70000 is not a TCP port; use 1 to 65535, or leave it out for the default 10000`}},
		{"tenant", func(m map[string]any) { la(m)["tenantId"] = "contoso" },
			[]string{`LocalAzure.tenantId: "contoso" is not a GUID`}},
		{"duplicate client id", func(m map[string]any) {
			item(la(m), "workloads", 1)["clientId"] = item(la(m), "workloads", 0)["clientId"]
		}, []string{`LocalAzure.workloads[1].clientId: dc5ebcb9-d3c3-4789-b454-f649577be03f is also the clientId of LocalAzure.workloads[0]; each identity needs its own`}},
		{"namespace", func(m map[string]any) { item(la(m), "workloads", 0)["namespace"] = "OrderFlow" },
			[]string{`LocalAzure.workloads[0].namespace: "OrderFlow" is not a Kubernetes namespace name`}},
		{"two audiences", func(m map[string]any) {
			item(la(m), "workloads", 0)["federatedCredentials"] = []any{map[string]any{"name": "fe-ci", "issuer": "https://token.actions.githubusercontent.com", "subject": "repo:x", "audiences": []any{"a", "b"}}}
		}, []string{`LocalAzure.workloads[0].federatedCredentials[0].audiences: Entra stores exactly one audience per federated credential`}},
		{"http issuer", func(m map[string]any) {
			item(la(m), "workloads", 0)["federatedCredentials"] = []any{map[string]any{"name": "fe-local", "issuer": "http://localhost"}}
		}, []string{`LocalAzure.workloads[0].federatedCredentials[0].issuer: "http://localhost" must be an https URL, or left out for the local cluster issuer`}},
		{"generate size", func(m map[string]any) {
			item(la(m)["keyVault"].(map[string]any), "secrets", 0)["value"] = "generate:lots"
		},
			[]string{`LocalAzure.keyVault.secrets[0].value: "generate:lots": write generate:N with N random bytes from 1 to 4096, e.g. "generate:32"`}},
		{"secret name", func(m map[string]any) {
			item(la(m)["keyVault"].(map[string]any), "secrets", 0)["name"] = "receipt_signing_key"
		},
			[]string{`LocalAzure.keyVault.secrets[0].name: "receipt_signing_key" is not a Key Vault secret name`}},
		{"secret expiry", func(m map[string]any) { item(la(m)["keyVault"].(map[string]any), "secrets", 0)["expires"] = "tomorrow" },
			[]string{`LocalAzure.keyVault.secrets[0].expires: "tomorrow" is not an RFC 3339 time; write it like 2030-01-31T00:00:00Z`}},
		{"partition key", func(m map[string]any) {
			db := item(la(m)["cosmos"].(map[string]any), "databases", 0)
			db["containers"].([]any)[0].(map[string]any)["partitionKeyPath"] = "customerId"
		}, []string{`LocalAzure.cosmos.databases[0].containers[0].partitionKeyPath: "customerId" is not a partition key path; write it like "/customerId"`}},
		{"blob container name", func(m map[string]any) { la(m)["storage"].(map[string]any)["containers"] = []any{"Attachments"} },
			[]string{`LocalAzure.storage.containers[0]: "Attachments" is not a blob container name`}},
		{"reserved env", func(m map[string]any) { la(m)["env"].(map[string]any)["AZURE_CLIENT_ID"] = "x" },
			[]string{`LocalAzure.env.AZURE_CLIENT_ID: is set by the local stack itself`}},
		{"two namespaces", func(m map[string]any) {
			uc := m["UserConfig"].(map[string]any)
			uc["Namespaces"] = append(uc["Namespaces"].([]any), map[string]any{"Name": "second"})
		}, []string{`localazure.json: UserConfig.Namespaces: 2 namespaces given; the Service Bus emulator and localazure serve exactly one`}},
		{"emulator section typo", func(m map[string]any) {
			q := m["UserConfig"].(map[string]any)["Namespaces"].([]any)[0].(map[string]any)["Queues"].([]any)[0].(map[string]any)
			q["Properties"].(map[string]any)["MaxDeliveryCont"] = 3.0
		}, []string{`localazure.json: UserConfig.Namespaces[0].Queues[0].Properties.MaxDeliveryCont: unknown field (did you mean "MaxDeliveryCount"?)`}},
		{"emulator section rule", func(m map[string]any) {
			q := m["UserConfig"].(map[string]any)["Namespaces"].([]any)[0].(map[string]any)["Queues"].([]any)[0].(map[string]any)
			q["Properties"].(map[string]any)["LockDuration"] = "1 minute"
		}, []string{`localazure.json: UserConfig.Namespaces[0].Queues[0].Properties.LockDuration`}},
		{"endpoint env", func(m map[string]any) {
			la(m)["endpointEnv"] = map[string]any{"keyVault": "VAULT-URL", "cosmos": "AZURE_CLIENT_ID", "blob": "DB", "serviceBus": "DB"}
		}, []string{
			`LocalAzure.endpointEnv.keyVault: "VAULT-URL" is not an environment variable name`,
			`LocalAzure.endpointEnv.cosmos: "AZURE_CLIENT_ID" is set by the stack itself`,
			`LocalAzure.endpointEnv.serviceBus: "DB" already carries another endpoint`,
		}},
		{"env overrides an endpoint", func(m map[string]any) {
			item(la(m), "workloads", 0)["env"] = map[string]any{"KEYVAULT_URL": "https://elsewhere/"}
		}, []string{`LocalAzure.workloads[0].env.KEYVAULT_URL: is set by the local stack itself`}},
		{"bad fault", func(m map[string]any) {
			la(m)["faults"] = []any{
				map[string]any{"service": "cosmos", "fault": "throttle", "rate": 0.3},
				map[string]any{"service": "cosmo", "fault": "throttle"},
				map[string]any{"service": "blob", "fault": "latency"},
				map[string]any{"service": "servicebus", "fault": "lose-locks", "rate": 0.5},
			}
		}, []string{
			`LocalAzure.faults[1]: service "cosmo": use one of identity, keyvault, cosmos, blob, servicebus`,
			`LocalAzure.faults[2]: a latency fault needs latency, e.g. "300ms"`,
			`LocalAzure.faults[3]: servicebus faults take no operation, path or rate`,
		}},
		{"unknown fault field", func(m map[string]any) {
			la(m)["faults"] = []any{map[string]any{"service": "cosmos", "fault": "throttle", "percent": 30}}
		}, []string{`LocalAzure.faults[0].percent: unknown field`}},
		{"missing section", func(m map[string]any) { delete(m, "LocalAzure") },
			[]string{`localazure.json: LocalAzure: section is missing`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := mutate(t, tc.f)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say\n  %s\ngot\n  %v", w, err)
				}
			}
			var fe *stackconfig.FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *stackconfig.FieldError", err)
			}
		})
	}
}

// TestAllProblemsReported: a user fixes everything in one pass, not one error per run.
func TestAllProblemsReported(t *testing.T) {
	err := mutate(t, func(m map[string]any) {
		la(m)["tenantId"] = ""
		item(la(m), "roleAssignments", 0)["role"] = "Owner"
		item(la(m), "roleAssignments", 3)["role"] = "Reader"
	})
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 problems, one per line, got %d:\n%v", len(lines), err)
	}
}

func TestSyntaxErrorHasPosition(t *testing.T) {
	_, err := stackconfig.Parse("localazure.json", []byte("{\n  \"LocalAzure\": {\n    \"tenantId\": \"x\",\n  }\n}"))
	if err == nil || !strings.Contains(err.Error(), "localazure.json: not valid JSON: line 4, column 3") {
		t.Fatalf("err = %v", err)
	}
	_, err = stackconfig.Parse("localazure.json", nil)
	if err == nil || !strings.Contains(err.Error(), "the file is empty") {
		t.Fatalf("empty: err = %v", err)
	}
}

func TestDefaultsAndResolution(t *testing.T) {
	src := `{"LocalAzure": {
		"tenantId": "a940a73d-986a-4c84-8ea7-d03a3cbc13ba",
		"workloads": [{"name": "w", "namespace": "ns", "serviceAccount": "sa",
			"clientId": "dc5ebcb9-d3c3-4789-b454-f649577be03f", "objectId": "BFD2DC81-E66A-472C-B809-0C634D4A4723"}],
		"roleAssignments": [{"principal": "bfd2dc81-e66a-472c-b809-0c634d4a4723", "role": "Key Vault Secrets Officer", "scope": "keyvault/secrets/x"}],
		"keyVault": {"secrets": [{"name": "lit", "value": "hello", "enabled": false, "expires": "2030-01-31T00:00:00Z"}]}
	}}`
	c, err := stackconfig.Parse("x.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Assignments()
	if len(a) != 1 || a[0].PrincipalID != "bfd2dc81-e66a-472c-b809-0c634d4a4723" {
		t.Fatalf("assignments = %+v (object ids are normalised to lower case, as tokens carry them)", a)
	}
	s := c.LocalAzure.KeyVault.Secrets[0]
	v, _ := s.ResolveValue(bytes.NewReader(nil))
	_, exp := s.Times()
	if v != "hello" || s.IsEnabled() || exp.Year() != 2030 {
		t.Fatalf("secret: value %q enabled %v exp %v", v, s.IsEnabled(), exp)
	}
	if c.LocalAzure.Ports.WithDefaults().Identity != stackconfig.DefaultIdentityPort {
		t.Fatal("default identity port")
	}
}

// TestShiftPorts: one offset moves every stand-in's port (defaults included) and
// every workload's listen port; a port pushed out of range names its field.
func TestShiftPorts(t *testing.T) {
	_, c := repoConfig(t)
	before := c.StandInPorts()
	fe, _ := c.Workload("frontend")
	be, _ := c.Workload("backend")
	httpPort, healthPort := fe.Listen["HTTP_ADDR"], be.Listen["HEALTH_ADDR"]
	if err := c.ShiftPorts(100); err != nil {
		t.Fatal(err)
	}
	for i, u := range c.StandInPorts() {
		if u.Port != before[i].Port+100 {
			t.Errorf("%s = %d, want %d", u.Field, u.Port, before[i].Port+100)
		}
	}
	fe, _ = c.Workload("frontend")
	be, _ = c.Workload("backend")
	if fe.Listen["HTTP_ADDR"] != httpPort+100 || be.Listen["HEALTH_ADDR"] != healthPort+100 {
		t.Errorf("listen ports %v %v, want %d and %d", fe.Listen, be.Listen, httpPort+100, healthPort+100)
	}
	addrs := fe.ListenAddrs(nil)
	if len(addrs) != 1 || addrs[0].Addr != fmt.Sprintf("127.0.0.1:%d", httpPort+100) || !addrs[0].Open || addrs[0].URL() != fmt.Sprintf("http://127.0.0.1:%d/", httpPort+100) {
		t.Errorf("frontend addresses %+v", addrs)
	}

	_, c = repoConfig(t)
	err := c.ShiftPorts(65000)
	if err == nil || !strings.Contains(err.Error(), "--port-offset 65000: LocalAzure.ports.identity:") || !strings.Contains(err.Error(), "not a TCP port; use an offset from") ||
		!strings.Contains(err.Error(), "LocalAzure.workloads[0].listen.HTTP_ADDR:") {
		t.Fatalf("err = %v", err)
	}
}

// TestListenAddrOverride: a variable the caller set itself wins, as given, and its
// wildcard host is dialled on loopback.
func TestListenAddrOverride(t *testing.T) {
	w := stackconfig.Workload{Listen: map[string]int{"HTTP_ADDR": 8080, "ADMIN_ADDR": 8081}, Open: "HTTP_ADDR"}
	got := w.ListenAddrs(func(v string) (string, bool) {
		if v == "HTTP_ADDR" {
			return ":9000", true
		}
		return "", false
	})
	if len(got) != 2 || got[0].Var != "ADMIN_ADDR" || got[0].Addr != "127.0.0.1:8081" || got[0].Overridden ||
		got[1].Addr != ":9000" || !got[1].Overridden || !got[1].Open || got[1].DialAddr() != "127.0.0.1:9000" || got[1].Port() != 9000 {
		t.Fatalf("addresses %+v", got)
	}
	for addr, want := range map[string]string{"0.0.0.0:1": "127.0.0.1:1", "[::]:2": "[::1]:2", "[::1]:3": "[::1]:3", "10.0.0.1:4": "10.0.0.1:4"} {
		if d := (stackconfig.ListenAddr{Addr: addr}).DialAddr(); d != want {
			t.Errorf("DialAddr(%s) = %s, want %s", addr, d, want)
		}
	}
}
