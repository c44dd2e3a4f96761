package deploy_test

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/contoso/orderflow/platform/config"
)

// optInComponents are the components no overlay lists: each is rendered here on top
// of the AKS overlay, as an operator would add it, so it is built and checked too.
var optInComponents = []string{"otlp", "prometheus"}

// renderWithComponent renders the AKS overlay plus one opt-in component through a
// kustomization written into the staged tree.
func renderWithComponent(t *testing.T, component string) []object {
	t.Helper()
	dir := filepath.Join(stageTree(t), "optin-"+component)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../overlays/aks\ncomponents:\n  - ../components/" + component + "\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := renderDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// TestOptInComponentsKeepWorkloadInvariants: with each opt-in component the
// Deployments still follow every rule TestWorkloadInvariants holds the overlays to,
// and set only variables the services read.
func TestOptInComponentsKeepWorkloadInvariants(t *testing.T) {
	known := map[string]bool{}
	for _, v := range config.Variables() {
		known[v.Name] = true
	}
	for _, c := range optInComponents {
		t.Run(c, func(t *testing.T) {
			objs := renderWithComponent(t, c)
			deps := decodeAll[appsv1.Deployment](t, objs, "Deployment")
			sas := decodeAll[corev1.ServiceAccount](t, objs, "ServiceAccount")
			pdbs := decodeAll[policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget")
			if len(deps) != 2 {
				t.Fatalf("Deployments %v", keys(deps))
			}
			for name, d := range deps {
				for _, err := range checkDeployment(d, sas, pdbs, true) {
					t.Errorf("Deployment %s: %v", name, err)
				}
				for _, e := range d.Spec.Template.Spec.Containers[0].Env {
					if !known[e.Name] {
						t.Errorf("Deployment %s sets %s, which the services do not read", name, e.Name)
					}
				}
			}
		})
	}
}

// TestOTLPComponent: both services get the collector's OTLP/HTTP base URL, and
// the network policies let them reach its port.
func TestOTLPComponent(t *testing.T) {
	objs := renderWithComponent(t, "otlp")
	deps := decodeAll[appsv1.Deployment](t, objs, "Deployment")
	for _, name := range []string{"frontend", "backend"} {
		d := deps[name]
		if d == nil {
			t.Fatalf("no Deployment %s", name)
		}
		var endpoint string
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			if e.Name == config.EnvOTLPEndpoint {
				endpoint = e.Value
			}
		}
		u, err := url.Parse(endpoint)
		if err != nil || u.Scheme != "http" || u.Port() != "4318" || u.Path != "" {
			t.Errorf("Deployment %s %s = %q, want the collector's http://host:4318 base URL", name, config.EnvOTLPEndpoint, endpoint)
		}
		// The AKS overlay's own render is untouched: the component is opt-in.
		for _, e := range decodeAll[appsv1.Deployment](t, render(t, "overlays/aks"), "Deployment")[name].Spec.Template.Spec.Containers[0].Env {
			if e.Name == config.EnvOTLPEndpoint {
				t.Errorf("overlays/aks exports traces without the otlp component")
			}
		}
	}
	pols := decodeAll[networkingv1.NetworkPolicy](t, objs, "NetworkPolicy")
	for _, name := range []string{"frontend", "backend"} {
		p := pols[name]
		if p == nil {
			t.Fatalf("no NetworkPolicy %s", name)
		}
		allowed := false
		for _, r := range p.Spec.Egress {
			for _, port := range r.Ports {
				if port.Port != nil && port.Port.IntValue() == 4318 && len(r.To) == 1 && r.To[0].NamespaceSelector != nil &&
					r.To[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "observability" {
					allowed = true
				}
			}
		}
		if !allowed {
			t.Errorf("NetworkPolicy %s does not allow egress to the collector's port 4318: %+v", name, p.Spec.Egress)
		}
	}
}
