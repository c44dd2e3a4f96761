package deploy_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	awi "github.com/Azure/azure-workload-identity/pkg/webhook"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	"github.com/contoso/orderflow/platform/config"
)

// The pods are mutated by the real Azure workload identity webhook: the pod mutator of
// github.com/Azure/azure-workload-identity/pkg/webhook at v1.5.1, the version the AKS
// add-on runs (Azure/AKS CHANGELOG.md, release 2025-07-20: "Workload identity image is
// updated to v1.5.1"; no later update in the changelog since). Its source in the module
// cache matches the v1.5.1 tag of the GitHub repository. v1.6.0 moves the token from
// /var/run/secrets/azure/tokens to /var/run/secrets/azure/wi/token
// (Azure/azure-workload-identity#1720), which is why nothing here hard-codes a path:
// the services read AZURE_FEDERATED_TOKEN_FILE, and so do these tests.
const (
	awiModule    = "github.com/Azure/azure-workload-identity"
	testTenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	// The AKS Kubernetes version the fake API server reports; from 1.32 the webhook
	// would inject its proxy as a native sidecar (not used here: no proxy annotation).
	testServerVersion = "v1.33.2"
)

// realWebhook runs the webhook's admission handler the way the API server calls it: an
// AdmissionRequest for a pod CREATE in namespace ns, the ServiceAccount read through a
// controller-runtime client, and the JSON patch of the response applied with the same
// json-patch library the API server's mutating dispatcher uses
// (k8s.io/apiserver/pkg/admission/plugin/webhook/mutating/dispatcher.go).
func realWebhook(t *testing.T, ns string, pod *corev1.Pod, sas ...*corev1.ServiceAccount) *corev1.Pod {
	t.Helper()
	// The webhook's config.ParseConfig reads the cluster's tenant from its own
	// environment, as the add-on's Deployment sets it.
	t.Setenv("AZURE_TENANT_ID", testTenantID)
	t.Setenv("AZURE_ENVIRONMENT", "AzurePublicCloud")

	// NewPodMutator asks the API server's /version through a discovery client.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/version" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"major": "1", "minor": "33", "gitVersion": testServerVersion})
	}))
	t.Cleanup(api.Close)

	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	b := fake.NewClientBuilder().WithScheme(scheme)
	for _, sa := range sas {
		sa = sa.DeepCopy()
		sa.Namespace = ns
		sa.ResourceVersion = ""
		b = b.WithObjects(sa)
	}
	c := b.Build()
	handler, err := awi.NewPodMutator(c, c, "", scheme, &rest.Config{Host: api.URL})
	if err != nil {
		t.Fatalf("the webhook's NewPodMutator: %v", err)
	}

	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       "test",
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Namespace: ns,
		Operation: admissionv1.Create,
		Object:    runtime.RawExtension{Raw: raw},
	}}
	resp := handler.Handle(context.Background(), req)
	if err := resp.Complete(req); err != nil {
		t.Fatal(err)
	}
	if !resp.Allowed {
		t.Fatalf("the webhook refused the pod: %+v", resp.Result)
	}
	if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch || len(resp.Patch) == 0 {
		t.Fatalf("the webhook returned no JSON patch: %+v", resp.AdmissionResponse)
	}
	patch, err := jsonpatch.DecodePatch(resp.Patch)
	if err != nil {
		t.Fatal(err)
	}
	mutated, err := patch.Apply(raw)
	if err != nil {
		t.Fatalf("apply the webhook's patch: %v", err)
	}
	out := &corev1.Pod{}
	if err := json.Unmarshal(mutated, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// webhookSelector is the objectSelector of the webhook's own MutatingWebhookConfiguration
// (deploy/azure-wi-webhook.yaml of the pinned module): the API server only calls the
// webhook for pods it matches.
func webhookSelector(t *testing.T) labels.Selector {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", awiModule).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", awiModule, err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "deploy", "azure-wi-webhook.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(b), "\n---\n") {
		if !strings.Contains(doc, "kind: MutatingWebhookConfiguration") {
			continue
		}
		var mwc admissionregistrationv1.MutatingWebhookConfiguration
		if err := yaml.UnmarshalStrict([]byte(doc), &mwc); err != nil {
			t.Fatal(err)
		}
		if len(mwc.Webhooks) != 1 || mwc.Webhooks[0].ObjectSelector == nil {
			t.Fatalf("unexpected webhook configuration: %+v", mwc.Webhooks)
		}
		sel, err := metav1.LabelSelectorAsSelector(mwc.Webhooks[0].ObjectSelector)
		if err != nil {
			t.Fatal(err)
		}
		return sel
	}
	t.Fatal("no MutatingWebhookConfiguration in the webhook's manifest")
	return nil
}

// podFor is the pod the Deployment's ReplicaSet creates: its template, in its namespace,
// with a generated name.
func podFor(d *appsv1.Deployment) *corev1.Pod {
	tpl := d.Spec.Template.DeepCopy()
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{GenerateName: d.Name + "-", Namespace: d.Namespace, Labels: tpl.Labels, Annotations: tpl.Annotations},
		Spec:       tpl.Spec,
	}
}

// tokenMount finds the projected service-account token the webhook added for the
// Entra audience, and where container c sees it.
func tokenMount(pod *corev1.Pod, c corev1.Container) (file string, expiration int64) {
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			sat := src.ServiceAccountToken
			if sat == nil || sat.Audience != awi.DefaultAudience {
				continue
			}
			for _, m := range c.VolumeMounts {
				if m.Name == v.Name {
					return path.Join(m.MountPath, sat.Path), *sat.ExpirationSeconds
				}
			}
		}
	}
	return "", 0
}

// containerEnv resolves a container's environment as the kubelet would: envFrom
// ConfigMaps first, then env entries (which win).
func containerEnv(t *testing.T, c corev1.Container, cms map[string]*corev1.ConfigMap) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, src := range c.EnvFrom {
		if src.ConfigMapRef == nil {
			t.Fatalf("container %s: only ConfigMap envFrom expected, got %+v", c.Name, src)
		}
		cm := cms[src.ConfigMapRef.Name]
		if cm == nil {
			t.Fatalf("container %s: envFrom ConfigMap %q not in the output", c.Name, src.ConfigMapRef.Name)
		}
		for k, v := range cm.Data {
			env[src.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Fatalf("container %s: env %s uses valueFrom; the test cannot resolve it", c.Name, e.Name)
		}
		env[e.Name] = e.Value
	}
	return env
}

// TestWebhookInjectedPodsLoadTheirConfiguration renders the AKS overlay, lets the real
// webhook mutate each Deployment's pod, resolves each container's environment and hands
// it to the services' own config.Load: the manifests and the code must agree on every
// variable.
func TestWebhookInjectedPodsLoadTheirConfiguration(t *testing.T) {
	objs := render(t, "overlays/aks")
	deps := decodeAll[appsv1.Deployment](t, objs, "Deployment")
	sas := decodeAll[corev1.ServiceAccount](t, objs, "ServiceAccount")
	cms := decodeAll[corev1.ConfigMap](t, objs, "ConfigMap")
	env := readEnvFile(t, repoRoot(t)+"/deploy/overlays/aks/aks.env.example")
	selector := webhookSelector(t)
	if len(deps) == 0 {
		t.Fatal("the AKS overlay rendered no Deployment")
	}

	for name, d := range deps {
		pod := podFor(d)
		if !selector.Matches(labels.Set(pod.Labels)) {
			t.Errorf("%s: the API server would not send this pod to the webhook (objectSelector %s)", name, selector)
			continue
		}
		sa := sas[pod.Spec.ServiceAccountName]
		if sa == nil {
			t.Fatalf("%s: ServiceAccount %q not rendered", name, pod.Spec.ServiceAccountName)
		}
		pod = realWebhook(t, d.Namespace, pod, sa)
		c := pod.Spec.Containers[0]
		got := containerEnv(t, c, cms)

		if got["AZURE_CLIENT_ID"] != env[strings.ToUpper(name)+"_CLIENT_ID"] {
			t.Errorf("%s: AZURE_CLIENT_ID %q, want the %s identity's client id", name, got["AZURE_CLIENT_ID"], name)
		}
		// The token must be where AZURE_FEDERATED_TOKEN_FILE points, on AKS's version
		// of the webhook at its documented path, and nothing of the pod's own may
		// shadow the mount.
		file, expiration := tokenMount(pod, c)
		if file == "" || got["AZURE_FEDERATED_TOKEN_FILE"] != file {
			t.Errorf("%s: AZURE_FEDERATED_TOKEN_FILE %q, token projected at %q", name, got["AZURE_FEDERATED_TOKEN_FILE"], file)
		}
		if want := path.Join(awi.TokenFileMountPath, awi.TokenFilePathName); file != want {
			t.Errorf("%s: token at %q, want %q (webhook v1.5.1)", name, file, want)
		}
		if expiration < awi.MinServiceAccountTokenExpiration {
			t.Errorf("%s: token expiration %ds", name, expiration)
		}
		for _, m := range c.VolumeMounts {
			if dir := path.Dir(file); m.MountPath != dir && strings.HasPrefix(dir+"/", m.MountPath+"/") {
				t.Errorf("%s: mount %s (%s) shadows the token directory", name, m.MountPath, m.Name)
			}
		}
		// Production pods must not carry an emulator-only override.
		for _, k := range []string{"COSMOS_KEY", "STORAGE_CONNECTION_STRING", "SERVICEBUS_CONNECTION_STRING", "KEYVAULT_AUTH"} {
			if _, ok := got[k]; ok {
				t.Errorf("%s: emulator-only %s set on AKS", name, k)
			}
		}

		cfg, err := config.Load(func(k string) string { return got[k] })
		if err != nil {
			t.Errorf("%s: config.Load on the injected pod's environment: %v", name, err)
			continue
		}
		if cfg.Identity.FederatedTokenFile != file || cfg.Identity.ClientID == "" || cfg.Identity.TenantID != testTenantID {
			t.Errorf("%s: identity not taken from the webhook's variables: %+v", name, cfg.Identity)
		}
		if cfg.KeyVault.Emulator || cfg.Cosmos.Key != "" || cfg.Storage.ConnectionString != "" || cfg.ServiceBus.ConnectionString != "" {
			t.Errorf("%s: an emulator credential is configured on AKS", name)
		}
		if cfg.ServiceBus.Namespace != env["SERVICEBUS_NAMESPACE"] || cfg.KeyVault.URL != env["KEYVAULT_URL"] {
			t.Errorf("%s: endpoints %q %q, want the Bicep outputs", name, cfg.ServiceBus.Namespace, cfg.KeyVault.URL)
		}
		// The service listens where the probes and the Service point.
		addr := map[string]string{"frontend": cfg.Frontend.HTTPAddr, "backend": cfg.Backend.HealthAddr}[name]
		if _, port, _ := net.SplitHostPort(addr); port != strconv.Itoa(int(c.Ports[0].ContainerPort)) {
			t.Errorf("%s: the service listens on %q, the container port is %d", name, addr, c.Ports[0].ContainerPort)
		}
		grace := *pod.Spec.TerminationGracePeriodSeconds
		preStop := int64(0)
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
			preStop = c.Lifecycle.PreStop.Sleep.Seconds
		}
		if int64(cfg.ShutdownTimeout.Seconds())+preStop > grace {
			t.Errorf("%s: shutdown timeout %s + preStop %ds exceeds terminationGracePeriodSeconds %d: the kubelet would kill mid-drain",
				name, cfg.ShutdownTimeout, preStop, grace)
		}
	}
}

// Without the label the API server never calls the webhook, and an explicit value in the
// spec survives the mutation: both are the webhook's behaviour, not this test's.
func TestWebhookNeedsTheLabelAndKeepsExplicitValues(t *testing.T) {
	objs := render(t, "overlays/aks")
	d := decodeAll[appsv1.Deployment](t, objs, "Deployment")["frontend"]
	sa := decodeAll[corev1.ServiceAccount](t, objs, "ServiceAccount")["frontend"]
	selector := webhookSelector(t)

	pod := podFor(d)
	delete(pod.Labels, awi.UseWorkloadIdentityLabel)
	if selector.Matches(labels.Set(pod.Labels)) {
		t.Fatalf("objectSelector %s matches a pod without the label", selector)
	}

	pod = podFor(d)
	pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, corev1.EnvVar{Name: "AZURE_AUTHORITY_HOST", Value: "https://login.example/"})
	pod = realWebhook(t, d.Namespace, pod, sa)
	var n int
	for _, e := range pod.Spec.Containers[0].Env {
		if e.Name == "AZURE_AUTHORITY_HOST" {
			n++
			if e.Value != "https://login.example/" {
				t.Errorf("the webhook overwrote AZURE_AUTHORITY_HOST with %s", e.Value)
			}
		}
	}
	if n != 1 {
		t.Errorf("AZURE_AUTHORITY_HOST appears %d times", n)
	}
	// Without the ServiceAccount's client-id annotation the webhook injects no
	// AZURE_CLIENT_ID, and config.Load must then refuse to start.
	noID := sa.DeepCopy()
	delete(noID.Annotations, awi.ClientIDAnnotation)
	pod = realWebhook(t, d.Namespace, podFor(d), noID)
	got := containerEnv(t, pod.Spec.Containers[0], decodeAll[corev1.ConfigMap](t, objs, "ConfigMap"))
	if v, ok := got["AZURE_CLIENT_ID"]; ok {
		t.Errorf("AZURE_CLIENT_ID %q injected without the annotation", v)
	}
	if _, err := config.Load(func(k string) string { return got[k] }); err == nil {
		t.Error("config.Load accepted a pod with no client id")
	}
}
