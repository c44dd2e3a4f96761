package deploy_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	awi "github.com/Azure/azure-workload-identity/pkg/webhook"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/contoso/orderflow/platform/health"
)

// The label and annotation the workload identity webhook acts on, from its own package.
const (
	wiUseLabel       = awi.UseWorkloadIdentityLabel
	wiClientIDAnnot  = awi.ClientIDAnnotation
	shutdownDeadline = 30 // seconds: the services' graceful shutdown deadline
)

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func decodeAll[T any](t *testing.T, objs []object, kind string) map[string]*T {
	t.Helper()
	out := map[string]*T{}
	for _, o := range objs {
		if o.Kind != kind {
			continue
		}
		v := new(T)
		if err := strictDecode(o.JSON, v); err != nil {
			t.Fatalf("%s: %v", o, err)
		}
		out[o.Name] = v
	}
	return out
}

// TestWorkloadInvariants holds every Deployment of every overlay to the rules the
// project promises: workload identity wiring, hardening, probes, sizes, disruption
// budget and spreading.
func TestWorkloadInvariants(t *testing.T) {
	for _, dir := range append([]string{"base"}, overlays(t)...) {
		t.Run(dir, func(t *testing.T) {
			objs := render(t, dir)
			deps := decodeAll[appsv1.Deployment](t, objs, "Deployment")
			sas := decodeAll[corev1.ServiceAccount](t, objs, "ServiceAccount")
			pdbs := decodeAll[policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget")
			if len(deps) != 2 || deps["frontend"] == nil || deps["backend"] == nil {
				t.Fatalf("want Deployments frontend and backend, got %v", keys(deps))
			}
			for name, d := range deps {
				for _, err := range checkDeployment(d, sas, pdbs, dir != "base") {
					t.Errorf("Deployment %s: %v", name, err)
				}
			}
		})
	}
}

func checkDeployment(d *appsv1.Deployment, sas map[string]*corev1.ServiceAccount, pdbs map[string]*policyv1.PodDisruptionBudget, rendered bool) []error {
	var errs []error
	fail := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	pod := d.Spec.Template
	spec := pod.Spec

	// Workload identity: the label on the pod, the client id on its own SA.
	if pod.Labels[wiUseLabel] != "true" {
		fail("pod label %s=\"true\" missing (the webhook ignores the pod without it)", wiUseLabel)
	}
	if spec.ServiceAccountName != d.Name {
		fail("serviceAccountName %q, want %q (one SA, one federated credential per service)", spec.ServiceAccountName, d.Name)
	}
	sa := sas[spec.ServiceAccountName]
	switch {
	case sa == nil:
		fail("ServiceAccount %q not in the output", spec.ServiceAccountName)
	case sa.Annotations[wiClientIDAnnot] == "":
		fail("ServiceAccount %s lacks %s", sa.Name, wiClientIDAnnot)
	case rendered && !guidRE.MatchString(sa.Annotations[wiClientIDAnnot]):
		fail("ServiceAccount %s: client id %q is not a GUID (placeholder left by the overlay?)", sa.Name, sa.Annotations[wiClientIDAnnot])
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		fail("automountServiceAccountToken must be false (the webhook projects its own token)")
	}

	// Pod hardening.
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		fail("pod securityContext must set runAsNonRoot, runAsUser 65532, seccomp RuntimeDefault: %+v", psc)
	}
	if len(spec.Containers) != 1 {
		fail("want one container, got %d", len(spec.Containers))
		return errs
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) != 0 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		fail("container securityContext not hardened: %+v", sc)
	}
	if sc != nil && sc.Privileged != nil && *sc.Privileged {
		fail("privileged container")
	}
	if !mountsTmp(spec, c) {
		fail("/tmp must be an emptyDir mount (read-only root filesystem)")
	}

	// Probes on the declared port.
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for _, pr := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			fail("%s probe: want httpGet %s", pr.name, pr.path)
			continue
		}
		if pr.probe.HTTPGet.Path != pr.path {
			fail("%s probe path %q, want %q", pr.name, pr.probe.HTTPGet.Path, pr.path)
		}
		if _, ok := ports[pr.probe.HTTPGet.Port.StrVal]; !ok {
			fail("%s probe port %v is not a named container port", pr.name, pr.probe.HTTPGet.Port.String())
		}
	}
	// /readyz must answer within the probe's timeout, or a slow dependency reads as
	// "unready" on every replica at once; the service bounds its checks by
	// health.DefaultTimeout and needs a little time to write the answer.
	if r := c.ReadinessProbe; r != nil {
		timeout := time.Duration(max(r.TimeoutSeconds, 1)) * time.Second // the kubelet's default is 1 s
		if timeout < health.DefaultTimeout+150*time.Millisecond {
			fail("readiness probe timeout %s leaves /readyz (checks bounded by %s) no time to answer", timeout, health.DefaultTimeout)
		}
	}
	wantPort := map[string]int32{"frontend": 8080, "backend": 8090}[d.Name]
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != wantPort {
		fail("container ports %v, want %d", c.Ports, wantPort)
	}

	// Sizes: requests and a memory limit, the limit above the request.
	req, lim := c.Resources.Requests, c.Resources.Limits
	if req.Cpu().IsZero() || req.Memory().IsZero() || lim.Memory().IsZero() {
		fail("requests cpu+memory and limits memory required: %v", c.Resources)
	} else if lim.Memory().Cmp(*req.Memory()) < 0 || lim.Memory().Cmp(resource.MustParse("40Mi")) < 0 {
		fail("memory limit %s below the request or the measured 40 MiB peak", lim.Memory())
	}

	// Shutdown: the kubelet must not kill before the service's deadline has passed.
	preStop := int64(0)
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if c.Lifecycle.PreStop.Sleep == nil {
			fail("preStop must be a sleep action (no shell in distroless)")
		} else {
			preStop = c.Lifecycle.PreStop.Sleep.Seconds
		}
	}
	if g := spec.TerminationGracePeriodSeconds; g == nil || *g != shutdownDeadline+preStop {
		got := "unset"
		if g != nil {
			got = fmt.Sprint(*g)
		}
		fail("terminationGracePeriodSeconds %s, want %d (deadline %d s + preStop %d s)", got, shutdownDeadline+preStop, shutdownDeadline, preStop)
	}

	// Spreading across zones and nodes, selecting this workload's own pods.
	topo := map[string]bool{}
	for _, tsc := range spec.TopologySpreadConstraints {
		if selects(tsc.LabelSelector, pod.Labels) {
			topo[tsc.TopologyKey] = true
		}
	}
	if !topo["topology.kubernetes.io/zone"] || !topo["kubernetes.io/hostname"] {
		fail("topologySpreadConstraints must spread over zone and hostname with a selector matching the pod: %v", spec.TopologySpreadConstraints)
	}

	// A PDB that selects these pods.
	var found bool
	for _, p := range pdbs {
		if selects(p.Spec.Selector, pod.Labels) {
			found = true
			if p.Spec.MaxUnavailable == nil && p.Spec.MinAvailable == nil {
				fail("PDB %s sets neither minAvailable nor maxUnavailable", p.Name)
			}
		}
	}
	if !found {
		fail("no PodDisruptionBudget selects the pods")
	}
	if !selects(d.Spec.Selector, pod.Labels) {
		fail("selector does not match the template labels")
	}
	if strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image, ":") {
		fail("image %q must carry an explicit tag", c.Image)
	}
	return errs
}

func mountsTmp(spec corev1.PodSpec, c corev1.Container) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath != "/tmp" {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.EmptyDir != nil {
				return true
			}
		}
	}
	return false
}

func selects(sel *metav1.LabelSelector, labels map[string]string) bool {
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labelSet(labels))
}

type labelSet map[string]string

func (l labelSet) Has(k string) bool              { _, ok := l[k]; return ok }
func (l labelSet) Get(k string) string            { return l[k] }
func (l labelSet) Lookup(k string) (string, bool) { v, ok := l[k]; return v, ok }

func keys[T any](m map[string]T) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestAKSOverlay checks what only the AKS overlay adds: images from the registry,
// the client ids and endpoints from aks.env, and the three components.
func TestAKSOverlay(t *testing.T) {
	objs := render(t, "overlays/aks")
	env := readEnvFile(t, repoRoot(t)+"/deploy/overlays/aks/aks.env.example")

	deps := decodeAll[appsv1.Deployment](t, objs, "Deployment")
	for name, d := range deps {
		want := env[strings.ToUpper(name)+"_IMAGE"]
		if got := d.Spec.Template.Spec.Containers[0].Image; got != want {
			t.Errorf("Deployment %s image %q, want %q from aks.env", name, got, want)
		}
		if d.Spec.Replicas != nil {
			t.Errorf("Deployment %s sets replicas; the autoscaler owns them on AKS", name)
		}
	}
	sas := decodeAll[corev1.ServiceAccount](t, objs, "ServiceAccount")
	for name, key := range map[string]string{"frontend": "FRONTEND_CLIENT_ID", "backend": "BACKEND_CLIENT_ID"} {
		if got := sas[name].Annotations[wiClientIDAnnot]; got != env[key] {
			t.Errorf("ServiceAccount %s client id %q, want %s=%q", name, got, key, env[key])
		}
	}
	for _, o := range objs {
		if strings.Contains(string(o.JSON), "SET-BY-OVERLAY") {
			t.Errorf("%s still carries a placeholder: %s", o, o.JSON)
		}
		if o.Name == "aks-outputs" {
			t.Errorf("the aks-outputs ConfigMap is local-config and must not be applied")
		}
	}
	cms := decodeAll[corev1.ConfigMap](t, objs, "ConfigMap")
	if len(cms) != 1 {
		t.Fatalf("want the one app ConfigMap, got %v", keys(cms))
	}
	for _, cm := range cms {
		for _, k := range []string{"KEYVAULT_URL", "COSMOS_ENDPOINT", "STORAGE_BLOB_ENDPOINT", "SERVICEBUS_NAMESPACE"} {
			if cm.Data[k] != env[k] {
				t.Errorf("ConfigMap %s[%s] = %q, want %q from aks.env", cm.Name, k, cm.Data[k], env[k])
			}
		}
	}

	svcs := decodeAll[corev1.Service](t, objs, "Service")
	if svcs["frontend"].Spec.Type != corev1.ServiceTypeLoadBalancer {
		t.Errorf("frontend Service type %s, want LoadBalancer on AKS", svcs["frontend"].Spec.Type)
	}

	so := decodeAll[scaledObject](t, objs, "ScaledObject")["backend"]
	ta := decodeAll[triggerAuthentication](t, objs, "TriggerAuthentication")
	if so == nil || so.Spec.ScaleTargetRef.Name != "backend" || len(so.Spec.Triggers) != 1 {
		t.Fatalf("ScaledObject backend targeting Deployment backend with one trigger expected: %+v", so)
	}
	tr := so.Spec.Triggers[0]
	if tr.Type != "azure-servicebus" || tr.Metadata["queueName"] != "orders" || tr.Metadata["namespace"] != env["SERVICEBUS_NAMESPACE_NAME"] {
		t.Errorf("trigger %+v: want azure-servicebus on queue orders in namespace %s", tr, env["SERVICEBUS_NAMESPACE_NAME"])
	}
	if tr.AuthenticationRef == nil || ta[tr.AuthenticationRef.Name] == nil {
		t.Fatalf("trigger's authenticationRef names no TriggerAuthentication in the output")
	}
	pi := ta[tr.AuthenticationRef.Name].Spec.PodIdentity
	if pi == nil || pi.Provider != "azure-workload" || pi.IdentityID != env["SCALER_CLIENT_ID"] {
		t.Errorf("TriggerAuthentication podIdentity %+v, want azure-workload with the scaler identity %s", pi, env["SCALER_CLIENT_ID"])
	}
	if pi != nil && (pi.IdentityID == env["BACKEND_CLIENT_ID"] || pi.IdentityID == env["FRONTEND_CLIENT_ID"]) {
		t.Errorf("the scaler must use its own identity, not a service's")
	}

	hpa := decodeAll[autoscalingv2.HorizontalPodAutoscaler](t, objs, "HorizontalPodAutoscaler")["frontend"]
	if hpa == nil || hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.Name != "frontend" {
		t.Fatalf("HPA for Deployment frontend expected: %+v", hpa)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 {
		t.Errorf("frontend HPA minReplicas must keep two pods for the PDB to allow drains")
	}

	checkNetworkPolicies(t, decodeAll[networkingv1.NetworkPolicy](t, objs, "NetworkPolicy"), deps)
}

// Config changes must roll the pods: the ConfigMap's name hash has to cover the
// values the overlay replaces in, not only the base's literals.
func TestConfigMapHashFollowsAKSEnv(t *testing.T) {
	objs := render(t, "overlays/aks")
	var name string
	for _, o := range objs {
		if o.Kind == "ConfigMap" {
			name = o.Name
		}
	}
	base := render(t, "base")
	for _, o := range base {
		if o.Kind == "ConfigMap" && o.Name == name {
			t.Fatalf("ConfigMap name %s is the same with and without the AKS endpoints", name)
		}
	}
	if !strings.HasPrefix(name, "orderflow-config-") {
		t.Fatalf("ConfigMap %q lost its hash suffix", name)
	}
}
