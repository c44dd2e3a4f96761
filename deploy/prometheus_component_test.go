package deploy_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podMonitor is the part of Azure Managed Prometheus's PodMonitor CRD
// (azmonitoring.coreos.com/v1) the component uses; strict decoding rejects any
// field outside it, so a typo cannot pass as an ignored field.
type podMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector            metav1.LabelSelector `json:"selector"`
		PodMetricsEndpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

// TestPrometheusComponent: the PodMonitor selects both Deployments' pods and scrapes
// /metrics on a container port each of them has, and the network policies let the
// add-on's scraper in on those ports.
func TestPrometheusComponent(t *testing.T) {
	objs := renderWithComponent(t, "prometheus")
	var pms []object
	for _, o := range objs {
		if o.Kind == "PodMonitor" {
			pms = append(pms, o)
		}
	}
	if len(pms) != 1 || pms[0].APIVersion != "azmonitoring.coreos.com/v1" || pms[0].Namespace != "orderflow" {
		t.Fatalf("PodMonitors %v, want one azmonitoring.coreos.com/v1 PodMonitor in orderflow", pms)
	}
	pm := decodeAll[podMonitor](t, objs, "PodMonitor")[pms[0].Name]
	deps := decodeAll[appsv1.Deployment](t, objs, "Deployment")
	pols := decodeAll[networkingv1.NetworkPolicy](t, objs, "NetworkPolicy")
	scraper := map[string]string{"rsName": "ama-metrics"}
	for _, name := range []string{"frontend", "backend"} {
		d := deps[name]
		if d == nil {
			t.Fatalf("no Deployment %s", name)
		}
		pod := d.Spec.Template.Labels
		if !selects(&pm.Spec.Selector, pod) {
			t.Errorf("the PodMonitor does not select the %s pods (labels %v)", name, pod)
			continue
		}
		ports := map[string]int32{}
		for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
			ports[p.Name] = p.ContainerPort
		}
		scraped := 0
		for _, ep := range pm.Spec.PodMetricsEndpoints {
			port, ok := ports[ep.Port]
			if !ok {
				continue
			}
			scraped++
			if ep.Path != "/metrics" {
				t.Errorf("%s: endpoint on port %s scrapes %q, want /metrics", name, ep.Port, ep.Path)
			}
			if !ingressAllowed(pols, pod, "kube-system", scraper, corev1.ProtocolTCP, port) {
				t.Errorf("%s: the network policies keep ama-metrics (kube-system) from port %d", name, port)
			}
		}
		if scraped != 1 {
			t.Errorf("%s: %d PodMonitor endpoints name one of its container ports %v, want 1", name, scraped, keys(ports))
		}
	}
	for _, ep := range pm.Spec.PodMetricsEndpoints {
		found := false
		for _, d := range deps {
			for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
				found = found || p.Name == ep.Port
			}
		}
		if !found {
			t.Errorf("PodMonitor endpoint port %q is no container port of either Deployment", ep.Port)
		}
	}
	// The backend admits the scraper only: not any other pod of kube-system, not others.
	be := deps["backend"].Spec.Template.Labels
	if ingressAllowed(pols, be, "kube-system", map[string]string{"k8s-app": "kube-dns"}, corev1.ProtocolTCP, 8090) {
		t.Error("backend: any kube-system pod may reach the health port, not only ama-metrics")
	}
	// The scraper's rule is added to the backend's ingress, not in place of the
	// frontend's: the page's backend identity panel keeps working with the component.
	if !ingressAllowed(pols, be, "orderflow", deps["frontend"].Spec.Template.Labels, corev1.ProtocolTCP, 8090) {
		t.Error("backend: with the prometheus component the frontend may no longer reach the health port")
	}
	// The component is opt-in: the AKS overlay alone has no PodMonitor.
	for _, o := range render(t, "overlays/aks") {
		if o.Kind == "PodMonitor" {
			t.Error("overlays/aks has a PodMonitor without the prometheus component")
		}
	}
}
