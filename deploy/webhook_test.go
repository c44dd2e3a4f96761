package deploy_test

import (
	"net"
	"path"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/contoso/orderflow/platform/config"
)

// What the AKS workload identity webhook does to a pod, after AWI pkg/webhook
// (consts.go, webhook.go; bicep-facts §5): for a pod labelled
// azure.workload.identity/use=true it adds, to every container and never overwriting
// a variable already in the spec, AZURE_CLIENT_ID (from the SA annotation),
// AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE and AZURE_AUTHORITY_HOST, plus a
// projected service-account token volume with audience api://AzureADTokenExchange.
const (
	wiTokenDir      = "/var/run/secrets/azure/tokens"
	wiTokenFile     = "azure-identity-token"
	wiVolume        = "azure-identity-token"
	wiAudience      = "api://AzureADTokenExchange"
	wiAuthorityHost = "https://login.microsoftonline.com/"
	testTenantID    = "72f988bf-86f1-41af-91ab-2d7cd011db47"
)

func mutateLikeWebhook(pod *corev1.PodTemplateSpec, sa *corev1.ServiceAccount, tenantID string) bool {
	if pod.Labels[wiUseLabel] != "true" {
		return false
	}
	expiration := int64(3600)
	inject := []corev1.EnvVar{
		{Name: "AZURE_CLIENT_ID", Value: sa.Annotations[wiClientIDAnnot]},
		{Name: "AZURE_TENANT_ID", Value: firstNonEmpty(sa.Annotations["azure.workload.identity/tenant-id"], tenantID)},
		{Name: "AZURE_FEDERATED_TOKEN_FILE", Value: path.Join(wiTokenDir, wiTokenFile)},
		{Name: "AZURE_AUTHORITY_HOST", Value: wiAuthorityHost},
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		for _, e := range inject {
			if e.Value == "" || hasEnv(c.Env, e.Name) {
				continue
			}
			c.Env = append(c.Env, e)
		}
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: wiVolume, MountPath: wiTokenDir, ReadOnly: true})
	}
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{
		Name: wiVolume,
		VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Path: wiTokenFile, ExpirationSeconds: &expiration, Audience: wiAudience,
			}}},
		}},
	})
	return true
}

func hasEnv(env []corev1.EnvVar, name string) bool {
	for _, e := range env {
		if e.Name == name {
			return true
		}
	}
	return false
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
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

// TestWebhookInjectedPodsLoadTheirConfiguration renders the AKS overlay, applies the
// webhook's mutation, resolves each container's environment and hands it to the
// services' own config.Load: the manifests and the code must agree on every variable.
func TestWebhookInjectedPodsLoadTheirConfiguration(t *testing.T) {
	objs := render(t, "overlays/aks")
	deps := decodeAll[appsv1.Deployment](t, objs, "Deployment")
	sas := decodeAll[corev1.ServiceAccount](t, objs, "ServiceAccount")
	cms := decodeAll[corev1.ConfigMap](t, objs, "ConfigMap")
	env := readEnvFile(t, repoRoot(t)+"/deploy/overlays/aks/aks.env.example")

	for name, d := range deps {
		pod := d.Spec.Template.DeepCopy()
		if !mutateLikeWebhook(pod, sas[pod.Spec.ServiceAccountName], testTenantID) {
			t.Fatalf("%s: the webhook would not mutate this pod", name)
		}
		c := pod.Spec.Containers[0]
		got := containerEnv(t, c, cms)

		if got["AZURE_CLIENT_ID"] != env[strings.ToUpper(name)+"_CLIENT_ID"] {
			t.Errorf("%s: AZURE_CLIENT_ID %q, want the %s identity's client id", name, got["AZURE_CLIENT_ID"], name)
		}
		// The token volume must be mounted where AZURE_FEDERATED_TOKEN_FILE points,
		// and nothing of the pod's own may shadow it.
		var mounted bool
		for _, m := range c.VolumeMounts {
			if m.MountPath == wiTokenDir && m.Name == wiVolume {
				mounted = true
			} else if strings.HasPrefix(wiTokenDir, m.MountPath+"/") || m.MountPath == wiTokenDir {
				t.Errorf("%s: mount %s shadows the token directory", name, m.MountPath)
			}
		}
		if !mounted || path.Dir(got["AZURE_FEDERATED_TOKEN_FILE"]) != wiTokenDir {
			t.Errorf("%s: token file %q not on the projected volume", name, got["AZURE_FEDERATED_TOKEN_FILE"])
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
		if cfg.Identity.FederatedTokenFile == "" || cfg.Identity.ClientID == "" || cfg.Identity.TenantID != testTenantID {
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

// Without the label the webhook leaves the pod alone, and then the configuration has
// no identity: the test's webhook is not a rubber stamp.
func TestWebhookNeedsTheLabel(t *testing.T) {
	objs := render(t, "overlays/aks")
	d := decodeAll[appsv1.Deployment](t, objs, "Deployment")["frontend"]
	sa := decodeAll[corev1.ServiceAccount](t, objs, "ServiceAccount")["frontend"]
	pod := d.Spec.Template.DeepCopy()
	delete(pod.Labels, wiUseLabel)
	if mutateLikeWebhook(pod, sa, testTenantID) {
		t.Fatal("mutated a pod without the label")
	}
	// An explicit value in the spec is never overwritten.
	pod = d.Spec.Template.DeepCopy()
	pod.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "AZURE_AUTHORITY_HOST", Value: "https://login.example/"}}
	mutateLikeWebhook(pod, sa, testTenantID)
	var n int
	for _, e := range pod.Spec.Containers[0].Env {
		if e.Name == "AZURE_AUTHORITY_HOST" {
			n++
			if e.Value != "https://login.example/" {
				t.Errorf("overwrote AZURE_AUTHORITY_HOST with %s", e.Value)
			}
		}
	}
	if n != 1 {
		t.Errorf("AZURE_AUTHORITY_HOST appears %d times", n)
	}
}
