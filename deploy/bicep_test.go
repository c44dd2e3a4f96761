package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// No Bicep compiler runs here (the GitHub workflow builds and lints); these tests read
// the .bicep text for the choices that must not regress. Each fact cites its public source.

func bicepFiles(t testing.TB) map[string]string {
	t.Helper()
	root := filepath.Join(repoRoot(t), "infra")
	out := map[string]string{}
	paths, _ := filepath.Glob(filepath.Join(root, "*.bicep"))
	mods, _ := filepath.Glob(filepath.Join(root, "modules", "*.bicep"))
	for _, p := range append(paths, mods...) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = string(b)
	}
	if len(out) < 5 {
		t.Fatalf("infra/: only %d Bicep files", len(out))
	}
	return out
}

// stripComments drops // comments so that assertions see only code.
func stripComments(src string) string {
	var b strings.Builder
	for _, line := range strings.Split(src, "\n") {
		if i := strings.Index(line, "//"); i >= 0 && !strings.Contains(line[:i], "'") {
			line = line[:i]
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// API versions: the newest GA version of each type in Bicep v0.46.1's type library
// (Azure/bicep-types-az generated/<provider>/<ns>/<version>/types.md, checked 2026-11-26); child
// types use their parent's version.
var apiVersions = map[string]string{
	"Microsoft.ContainerService/managedClusters":        "2026-05-01",
	"Microsoft.ManagedIdentity/userAssignedIdentities":  "2024-11-30",
	"Microsoft.KeyVault/vaults":                         "2026-02-01",
	"Microsoft.DocumentDB/databaseAccounts":             "2026-03-15",
	"Microsoft.Storage/storageAccounts":                 "2026-04-01",
	"Microsoft.ServiceBus/namespaces":                   "2026-01-01",
	"Microsoft.ContainerRegistry/registries":            "2025-11-01",
	"Microsoft.OperationalInsights/workspaces":          "2025-07-01",
	"Microsoft.Authorization/roleAssignments":           "2022-04-01",
	"Microsoft.Monitor/accounts":                        "2023-04-03",
	"Microsoft.Insights/dataCollectionEndpoints":        "2022-06-01",
	"Microsoft.Insights/dataCollectionRules":            "2022-06-01",
	"Microsoft.Insights/dataCollectionRuleAssociations": "2022-06-01",
}

var resourceRE = regexp.MustCompile(`(?m)^resource \w+ '([\w.]+/[\w/]+)@([\w-]+)'`)

func TestBicepAPIVersionsAreTheCheckedOnes(t *testing.T) {
	for file, src := range bicepFiles(t) {
		for _, m := range resourceRE.FindAllStringSubmatch(src, -1) {
			typ, ver := m[1], m[2]
			parts := strings.Split(typ, "/")
			parent := parts[0] + "/" + parts[1]
			want, ok := apiVersions[parent]
			if !ok {
				t.Errorf("%s: %s has no checked API version; check its newest GA version in Azure/bicep-types-az and add it to this table", file, typ)
				continue
			}
			if ver != want {
				t.Errorf("%s: %s@%s, want @%s (the checked version in apiVersions)", file, typ, ver, want)
			}
		}
	}
}

// The linter's no-hardcoded-env-urls list (Azure/bicep src/Bicep.Core/Analyzers/Linter/Rules/NoHardcodedEnvironmentUrlsRule.cs) plus the data-plane suffixes.
func TestBicepHasNoHardCodedCloudURLs(t *testing.T) {
	hosts := []string{"management.azure.com", "login.microsoftonline.com", "core.windows.net", "vault.azure.net",
		"database.windows.net", "documents.azure.com", "servicebus.windows.net", "azurecr.io"}
	for file, src := range bicepFiles(t) {
		code := stripComments(src)
		for _, h := range hosts {
			if strings.Contains(code, h) {
				t.Errorf("%s hard-codes %s; use environment() or a resource property", file, h)
			}
		}
	}
}

func TestBicepSecuritySettings(t *testing.T) {
	files := bicepFiles(t)
	must := map[string][]string{
		"modules/aks.bicep": {"oidcIssuerProfile: {\n      enabled: true", "workloadIdentity: {\n        enabled: true",
			"keda: {\n        enabled: true", "networkDataplane: 'cilium'", "networkPolicy: 'cilium'", "networkPluginMode: 'overlay'",
			"disableLocalAccounts: true", "mode: 'System'", "kubeletidentity.objectId", "omsagent"},
		"modules/keyvault.bicep":   {"enableRbacAuthorization: true", "enablePurgeProtection: true"},
		"modules/cosmos.bicep":     {"disableLocalAuth: true", "sqlRoleDefinitions/${cosmosDataContributorId}", "scope: '${account.id}/dbs/${databaseName}'"},
		"modules/storage.bicep":    {"allowSharedKeyAccess: false", "allowBlobPublicAccess: false", "publicAccess: 'None'", "scope: attachments", "scope: receipts"},
		"modules/servicebus.bicep": {"disableLocalAuth: true", "name: 'Standard'", "lockDuration: 'PT1M'", "maxDeliveryCount: 10", "requiresDuplicateDetection: true", "deadLetteringOnMessageExpiration: true", "scope: queue", "scope: topic", "scope: eventsSubscription"},
		"modules/acr.bicep":        {"adminUserEnabled: false", "anonymousPullEnabled: false"},
		"modules/identity.bicep":   {"@batchSize(1)", "audiences: ['api://AzureADTokenExchange']", "subject: 'system:serviceaccount:${sa.namespace}:${sa.name}'"},
		"main.bicep": {"enableContainerInsights bool", "enableManagedPrometheus bool", "environment().authentication.loginEndpoint",
			"'modules/container-insights.bicep' = if (enableContainerInsights)", "'modules/prometheus.bicep' = if (enableManagedPrometheus)"},
	}
	for file, snippets := range must {
		code := stripComments(files[file])
		for _, s := range snippets {
			if !strings.Contains(code, s) {
				t.Errorf("%s lacks %q", file, s)
			}
		}
	}
	// Every role assignment: a deterministic guid() name and, for the managed
	// identities, principalType ServicePrincipal (https://learn.microsoft.com/azure/azure-resource-manager/bicep/scenarios-rbac).
	raRE := regexp.MustCompile(`(?s)resource \w+ 'Microsoft.Authorization/roleAssignments@[\w-]+' = (.*?)\n[}\]]`)
	n := 0
	for file, src := range files {
		for _, m := range raRE.FindAllStringSubmatch(src, -1) {
			n++
			body := m[1]
			if !strings.Contains(body, "name: guid(") || !strings.Contains(body, "principalType:") || !strings.Contains(body, "scope:") {
				t.Errorf("%s: role assignment without guid() name, principalType or scope:\n%s", file, body)
			}
		}
	}
	if n < 8 {
		t.Errorf("found %d role assignment resources, expected the per-scope loops", n)
	}
	// Every role GUID in roles.bicep is the built-in role its key names.
	for key, id := range roleIDsInBicep(t, files["modules/roles.bicep"]) {
		want, ok := builtInRoleIDs[key]
		if !ok {
			t.Errorf("roles.bicep: %s is not in builtInRoleIDs; add it with its name from the built-in roles page", key)
			continue
		}
		if id != want.id {
			t.Errorf("roles.bicep: %s = %s, but %q is %s", key, id, want.name, want.id)
		}
	}
}

// builtInRoleIDs are the Azure built-in roles the template assigns, as listed on
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
// (checked 2026-12-02). A built-in role's GUID is the same in every tenant.
var builtInRoleIDs = map[string]struct{ name, id string }{
	"keyVaultSecretsUser":        {"Key Vault Secrets User", "4633458b-17de-408a-b874-0445c86b69e6"},
	"keyVaultSecretsOfficer":     {"Key Vault Secrets Officer", "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"},
	"storageBlobDataContributor": {"Storage Blob Data Contributor", "ba92f5b4-2d11-453d-a403-e96b0029c9fe"},
	"storageBlobDataReader":      {"Storage Blob Data Reader", "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"},
	"serviceBusDataSender":       {"Azure Service Bus Data Sender", "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"},
	"serviceBusDataReceiver":     {"Azure Service Bus Data Receiver", "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"},
	"serviceBusDataOwner":        {"Azure Service Bus Data Owner", "090c5cfd-751d-490a-894a-3ce6f1109419"},
	"acrPull":                    {"AcrPull", "7f951dda-4ed3-4680-a7ca-43fe172d538d"},
	"aksRbacClusterAdmin":        {"Azure Kubernetes Service RBAC Cluster Admin", "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"},
}

// roleIDsInBicep reads the `key: 'guid'` entries of roles.bicep's roleIds object.
func roleIDsInBicep(t *testing.T, src string) map[string]string {
	t.Helper()
	start := strings.Index(src, "var roleIds = {")
	if start < 0 {
		t.Fatal("roles.bicep: no `var roleIds = {`")
	}
	body, _, _ := strings.Cut(src[start:], "\n}")
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s*(\w+): '([0-9a-f-]{36})'`).FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	if len(out) < 5 {
		t.Fatalf("roles.bicep: read only %d role ids", len(out))
	}
	return out
}

// roleNames maps roles.bicep keys to the Azure role names localazure.json uses.
var roleNames = map[string]string{
	"keyVaultSecretsUser":        "Key Vault Secrets User",
	"storageBlobDataContributor": "Storage Blob Data Contributor",
	"storageBlobDataReader":      "Storage Blob Data Reader",
	"serviceBusDataSender":       "Azure Service Bus Data Sender",
	"serviceBusDataReceiver":     "Azure Service Bus Data Receiver",
	"serviceBusDataOwner":        "Azure Service Bus Data Owner",
}

// bicepGrants reads main.bicep's role assignments as "principal|role|scope", with
// scopes in localazure's notation (localazure/authz/doc.go).
func bicepGrants(t *testing.T) []string {
	t.Helper()
	src := stripComments(bicepFiles(t)["main.bicep"])
	n := namesDoc(t)
	scopes := map[string]string{
		"attachmentsAssignments":  "storage/" + n.Attachments,
		"receiptsAssignments":     "storage/" + n.Receipts,
		"queueAssignments":        "servicebus/" + n.Queue,
		"topicAssignments":        "servicebus/" + n.Topic,
		"subscriptionAssignments": "servicebus/" + n.Topic + "/subscriptions/" + n.Subscription,
	}
	var out []string
	blockRE := regexp.MustCompile(`(?s)(\w+Assignments): \[(.*?)\]`)
	itemRE := regexp.MustCompile(`principalId: (\w+)Identity\.outputs\.principalId, roleId: roleIds\.(\w+)`)
	for _, b := range blockRE.FindAllStringSubmatch(src, -1) {
		scope, ok := scopes[b[1]]
		if !ok {
			t.Fatalf("main.bicep: unknown assignment list %s", b[1])
		}
		for _, it := range itemRE.FindAllStringSubmatch(b[2], -1) {
			out = append(out, it[1]+"|"+roleNames[it[2]]+"|"+scope)
		}
	}
	list := regexp.MustCompile(`(?s)(readerPrincipalIds|contributorPrincipalIds): \[(.*?)\]`)
	for _, b := range list.FindAllStringSubmatch(src, -1) {
		role, scope := "Key Vault Secrets User", "keyvault"
		if b[1] == "contributorPrincipalIds" {
			role, scope = "Cosmos DB Built-in Data Contributor", "cosmos/dbs/"+n.CosmosDatabase
		}
		for _, p := range regexp.MustCompile(`(\w+)Identity\.outputs\.principalId`).FindAllStringSubmatch(b[2], -1) {
			out = append(out, p[1]+"|"+role+"|"+scope)
		}
	}
	sort.Strings(out)
	return out
}

// TestLeastPrivilegeIsTheSameInAzureAndLocally: the Bicep role assignments of the two
// services and localazure.json's are the same set, so local runs deny what Azure denies.
// The KEDA scaler's grant exists only in Azure (no KEDA locally).
func TestLeastPrivilegeIsTheSameInAzureAndLocally(t *testing.T) {
	var azure []string
	var scaler []string
	for _, g := range bicepGrants(t) {
		if strings.HasPrefix(g, "scaler|") {
			scaler = append(scaler, g)
		} else {
			azure = append(azure, g)
		}
	}
	var local []string
	for _, ra := range readLocalAzure(t).LocalAzure.RoleAssignments {
		if slices.Contains(localOnlyWorkloads, ra.Principal) {
			continue // no Azure counterpart (names_test.go)
		}
		local = append(local, ra.Principal+"|"+ra.Role+"|"+strings.Trim(ra.Scope, "/"))
	}
	sort.Strings(local)
	if !slices.Equal(azure, local) {
		t.Errorf("role assignments differ\n Bicep:           %q\n localazure.json: %q", azure, local)
	}
	if len(azure) != 12 {
		t.Errorf("want 6 grants per service, got %d: %q", len(azure), azure)
	}
	n := namesDoc(t)
	if !slices.Equal(scaler, []string{"scaler|Azure Service Bus Data Owner|servicebus/" + n.Queue}) {
		t.Errorf("the KEDA scaler identity must hold exactly Data Owner on the orders queue: %q", scaler)
	}
	// No service identity may hold a namespace- or account-wide data role.
	for _, g := range azure {
		scope := g[strings.LastIndex(g, "|")+1:]
		if scope == "servicebus" || scope == "storage" || scope == "cosmos" {
			t.Errorf("%s is account-wide", g)
		}
	}
}

// TestDeploymentDocListsTheRealGrants keeps docs/deployment.md's least-privilege
// table equal to what main.bicep grants.
func TestDeploymentDocListsTheRealGrants(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "deployment.md"))
	if err != nil {
		t.Fatal(err)
	}
	scopeRE := regexp.MustCompile("^(database|container|queue|topic|subscription) `([^`]+)`$")
	var doc []string
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 5 {
			continue
		}
		who := strings.TrimSpace(cells[1])
		if who == "scaler (keda-operator)" {
			who = "scaler"
		}
		if who != "frontend" && who != "backend" && who != "scaler" {
			continue
		}
		role, scope := strings.TrimSpace(cells[2]), strings.TrimSpace(cells[3])
		if strings.HasPrefix(scope, "the vault") {
			scope = "keyvault"
		} else if m := scopeRE.FindStringSubmatch(scope); m != nil {
			switch m[1] {
			case "database":
				scope = "cosmos/dbs/" + m[2]
			case "container":
				scope = "storage/" + m[2]
			case "queue", "topic":
				scope = "servicebus/" + m[2]
			case "subscription":
				topic, sub, _ := strings.Cut(m[2], "/")
				scope = "servicebus/" + topic + "/subscriptions/" + sub
			}
		} else {
			t.Errorf("docs/deployment.md: cannot read scope %q", scope)
		}
		doc = append(doc, who+"|"+role+"|"+scope)
	}
	sort.Strings(doc)
	if want := bicepGrants(t); !slices.Equal(doc, want) {
		t.Errorf("docs/deployment.md least-privilege table differs from main.bicep\n doc:   %q\n bicep: %q", doc, want)
	}
}
