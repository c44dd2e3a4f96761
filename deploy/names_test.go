package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/contoso/orderflow/platform/config"

	"github.com/contoso/orderflow/localazure/stackconfig"
)

// names is docs/names.md, parsed: the single list every layer is checked against.
type names struct {
	Namespace                                     string
	ServiceAccounts                               []string
	CosmosDatabase, CosmosContainer, PartitionKey string
	Attachments, Receipts                         string
	Queue, Topic, Subscription                    string
	Secret                                        string
	EnvVars                                       []string
}

var backticked = regexp.MustCompile("`([^`]+)`")

func namesDoc(t testing.TB) names {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "names.md"))
	if err != nil {
		t.Fatal(err)
	}
	var n names
	inEnv := false
	row := func(line, label string) []string {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.HasPrefix(strings.TrimSpace(cells[1]), label) {
			return nil
		}
		var out []string
		for _, m := range backticked.FindAllStringSubmatch(cells[2], -1) {
			out = append(out, m[1])
		}
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "## Environment variables") {
			inEnv = true
			continue
		}
		if strings.HasPrefix(line, "#") {
			inEnv = false
		}
		if inEnv {
			cells := strings.Split(line, "|")
			if len(cells) > 2 {
				for _, m := range backticked.FindAllStringSubmatch(cells[1], -1) {
					n.EnvVars = append(n.EnvVars, m[1])
				}
			}
			continue
		}
		if v := row(line, "Kubernetes namespace"); len(v) == 1 {
			n.Namespace = v[0]
		}
		if v := row(line, "service accounts"); len(v) > 0 {
			n.ServiceAccounts = v
		}
		if v := row(line, "Cosmos DB database"); len(v) == 3 {
			n.CosmosDatabase, n.CosmosContainer, n.PartitionKey = v[0], v[1], v[2]
		}
		if v := row(line, "Blob containers"); len(v) == 2 {
			n.Attachments, n.Receipts = v[0], v[1]
		}
		if v := row(line, "Service Bus queue"); len(v) == 1 {
			n.Queue = v[0]
		}
		if v := row(line, "Service Bus topic"); len(v) == 2 {
			n.Topic, n.Subscription = v[0], v[1]
		}
		if v := row(line, "Key Vault secret"); len(v) == 1 {
			n.Secret = v[0]
		}
	}
	if n.Namespace == "" || len(n.ServiceAccounts) != 2 || n.PartitionKey == "" || n.Receipts == "" || n.Subscription == "" || n.Secret == "" || len(n.EnvVars) < 10 {
		t.Fatalf("docs/names.md did not parse as expected (table layout changed?): %+v", n)
	}
	return n
}

// bicepVars returns `var x = 'literal'` assignments of a Bicep file.
func bicepVars(t testing.TB, rel string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^var (\w+) = '([^']*)'`).FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = m[2]
	}
	return out
}

// TestNamesAgreeEverywhere: Bicep, Kustomize, compose (checkAppService) and
// localazure.json against docs/names.md.
func TestNamesAgreeEverywhere(t *testing.T) {
	n := namesDoc(t)
	eq := func(where, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %q, docs/names.md says %q", where, got, want)
		}
	}

	bv := bicepVars(t, "infra/main.bicep")
	eq("main.bicep k8sNamespace", bv["k8sNamespace"], n.Namespace)
	eq("main.bicep frontendServiceAccount", bv["frontendServiceAccount"], n.ServiceAccounts[0])
	eq("main.bicep backendServiceAccount", bv["backendServiceAccount"], n.ServiceAccounts[1])
	eq("main.bicep cosmosDatabaseName", bv["cosmosDatabaseName"], n.CosmosDatabase)
	eq("main.bicep cosmosContainerName", bv["cosmosContainerName"], n.CosmosContainer)
	eq("main.bicep cosmosPartitionKeyPath", bv["cosmosPartitionKeyPath"], n.PartitionKey)
	eq("main.bicep attachmentsContainerName", bv["attachmentsContainerName"], n.Attachments)
	eq("main.bicep receiptsContainerName", bv["receiptsContainerName"], n.Receipts)
	eq("main.bicep ordersQueueName", bv["ordersQueueName"], n.Queue)
	eq("main.bicep eventsTopicName", bv["eventsTopicName"], n.Topic)
	eq("main.bicep eventsSubscriptionName", bv["eventsSubscriptionName"], n.Subscription)
	eq("main.bicep receiptKeySecretName", bv["receiptKeySecretName"], n.Secret)

	objs := render(t, "overlays/aks")
	if _, ok := find(objs, "Namespace", n.Namespace); !ok {
		t.Errorf("Kustomize: no Namespace %s", n.Namespace)
	}
	for _, sa := range n.ServiceAccounts {
		if _, ok := find(objs, "ServiceAccount", sa); !ok {
			t.Errorf("Kustomize: no ServiceAccount %s", sa)
		}
	}
	for _, cm := range decodeAll[corev1.ConfigMap](t, objs, "ConfigMap") {
		for k, want := range map[string]string{
			"COSMOS_DATABASE": n.CosmosDatabase, "COSMOS_CONTAINER": n.CosmosContainer, "ATTACHMENTS_CONTAINER": n.Attachments,
			"RECEIPTS_CONTAINER": n.Receipts, "ORDERS_QUEUE": n.Queue, "EVENTS_TOPIC": n.Topic,
			"EVENTS_SUBSCRIPTION": n.Subscription, "RECEIPT_KEY_SECRET": n.Secret,
		} {
			eq("Kustomize ConfigMap "+k, cm.Data[k], want)
		}
		// Every variable the ConfigMap sets is one docs/names.md knows.
		for k := range cm.Data {
			if !slices.Contains(n.EnvVars, k) {
				t.Errorf("Kustomize ConfigMap sets %s, which docs/names.md does not list", k)
			}
		}
	}
	so := decodeAll[scaledObject](t, objs, "ScaledObject")["backend"]
	eq("ScaledObject queueName", so.Spec.Triggers[0].Metadata["queueName"], n.Queue)

	la := readLocalAzure(t)
	ns := la.UserConfig.Namespaces
	if len(ns) != 1 || len(ns[0].Queues) != 1 || len(ns[0].Topics) != 1 || len(ns[0].Topics[0].Subscriptions) != 1 {
		t.Fatalf("localazure.json UserConfig: want one queue and one topic with one subscription: %+v", ns)
	}
	eq("localazure.json queue", ns[0].Queues[0].Name, n.Queue)
	eq("localazure.json topic", ns[0].Topics[0].Name, n.Topic)
	eq("localazure.json subscription", ns[0].Topics[0].Subscriptions[0].Name, n.Subscription)
	q := ns[0].Queues[0].Properties
	if q.LockDuration != "PT1M" || q.MaxDeliveryCount != 10 || !q.RequiresDuplicateDetection || !q.DeadLetteringOnMessageExpiration {
		t.Errorf("localazure.json queue properties %+v differ from the Bicep queue (PT1M, 10, duplicate detection, dead-lettering)", q)
	}
	var wls []string
	for _, w := range la.LocalAzure.Workloads {
		if slices.Contains(localOnlyWorkloads, w.Name) {
			if w.Namespace == n.Namespace {
				t.Errorf("localazure.json workload %s is local-only but in the app's namespace %s; give it its own", w.Name, n.Namespace)
			}
			continue
		}
		eq("localazure.json workload "+w.Name+" namespace", w.Namespace, n.Namespace)
		wls = append(wls, w.ServiceAccount)
	}
	sort.Strings(wls)
	want := slices.Clone(n.ServiceAccounts)
	sort.Strings(want)
	if !slices.Equal(wls, want) {
		t.Errorf("localazure.json service accounts %v, docs/names.md %v", wls, want)
	}
	if c := la.LocalAzure.Cosmos.Databases; len(c) != 1 || c[0].ID != n.CosmosDatabase || len(c[0].Containers) != 1 ||
		c[0].Containers[0].ID != n.CosmosContainer || c[0].Containers[0].PartitionKeyPath != n.PartitionKey {
		t.Errorf("localazure.json cosmos %+v", c)
	}
	if got := la.LocalAzure.Storage.Containers; !slices.Equal(got, []string{n.Attachments, n.Receipts}) {
		t.Errorf("localazure.json storage containers %v", got)
	}
	if s := la.LocalAzure.KeyVault.Secrets; len(s) != 1 || s[0].Name != n.Secret {
		t.Errorf("localazure.json secrets %+v, want %s", s, n.Secret)
	}
}

// localOnlyWorkloads are localazure.json workloads that are no pod of the app and
// have no identity in infra/ nor manifest in deploy/: secrets-writer is the operator
// identity `localazure secret set` runs as in the labs (in Azure, deploy.sh's user
// holds Key Vault Secrets Officer instead). Each sits outside the app's namespace.
var localOnlyWorkloads = []string{"secrets-writer"}

// readLocalAzure loads localazure.json with the stand-ins' own strict loader, so
// these checks read the file exactly as `localazure up` does.
func readLocalAzure(t testing.TB) *stackconfig.Config {
	t.Helper()
	c, err := stackconfig.Load(filepath.Join(repoRoot(t), "localazure.json"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEveryVariableIsOneTheServicesRead: a misspelt variable in a manifest or in
// compose would be silently ignored by the services, so every key set anywhere must be
// one platform/config reads, and docs/names.md must list only such variables.
func TestEveryVariableIsOneTheServicesRead(t *testing.T) {
	known := map[string]bool{}
	for _, v := range config.Variables() {
		known[v.Name] = true
	}
	for _, v := range namesDoc(t).EnvVars {
		if !known[v] {
			t.Errorf("docs/names.md lists %s, which platform/config does not read", v)
		}
	}
	for _, cm := range decodeAll[corev1.ConfigMap](t, render(t, "overlays/aks"), "ConfigMap") {
		for k := range cm.Data {
			if !known[k] {
				t.Errorf("ConfigMap %s sets %s, which the services do not read", cm.Name, k)
			}
		}
	}
	for _, profile := range [][]string{nil, {"localazure"}} {
		p := loadCompose(t, profile...)
		for _, name := range []string{"frontend", "backend", "frontend-localazure", "backend-localazure"} {
			s, ok := p.Services[name]
			if !ok {
				continue
			}
			for k := range envOf(s) {
				if !known[k] {
					t.Errorf("compose service %s sets %s, which the services do not read", name, k)
				}
			}
		}
	}
}
