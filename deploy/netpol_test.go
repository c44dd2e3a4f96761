package deploy_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// checkNetworkPolicies evaluates the policies the way an enforcing plugin would,
// for the few flows that matter, instead of comparing YAML.
func checkNetworkPolicies(t *testing.T, pols map[string]*networkingv1.NetworkPolicy, deps map[string]*appsv1.Deployment) {
	t.Helper()
	dd := pols["default-deny"]
	if dd == nil || len(dd.Spec.PodSelector.MatchLabels) != 0 || len(dd.Spec.Ingress) != 0 || len(dd.Spec.Egress) != 0 || len(dd.Spec.PolicyTypes) != 2 {
		t.Fatalf("default-deny must select every pod and deny ingress and egress: %+v", dd)
	}
	kubeDNS := map[string]string{"k8s-app": "kube-dns"}
	for name, d := range deps {
		labels := d.Spec.Template.Labels
		if !egressAllowed(pols, labels, "kube-system", kubeDNS, "", corev1.ProtocolUDP, 53) {
			t.Errorf("%s: DNS to kube-dns not allowed", name)
		}
		for _, port := range []int32{443, 5671} {
			if !egressAllowed(pols, labels, "", nil, "20.38.0.1", corev1.ProtocolTCP, port) {
				t.Errorf("%s: egress to Azure (public IP) on %d not allowed", name, port)
			}
		}
		if egressAllowed(pols, labels, "", nil, "10.244.1.7", corev1.ProtocolTCP, 443) {
			t.Errorf("%s: egress to another pod's IP on 443 allowed; only public Azure endpoints should be", name)
		}
		if egressAllowed(pols, labels, "", nil, "20.38.0.1", corev1.ProtocolTCP, 80) {
			t.Errorf("%s: plain HTTP egress allowed", name)
		}
	}
	fe := deps["frontend"].Spec.Template.Labels
	if !ingressAllowed(pols, fe, corev1.ProtocolTCP, 8080) {
		t.Errorf("frontend: ingress on 8080 not allowed")
	}
	if ingressAllowed(pols, fe, corev1.ProtocolTCP, 9090) {
		t.Errorf("frontend: ingress on another port allowed")
	}
	if ingressAllowed(pols, deps["backend"].Spec.Template.Labels, corev1.ProtocolTCP, 8090) {
		t.Errorf("backend: takes no traffic, yet ingress is allowed")
	}
}

func egressAllowed(pols map[string]*networkingv1.NetworkPolicy, pod map[string]string, peerNS string, peerPod map[string]string, ip string, proto corev1.Protocol, port int32) bool {
	for _, p := range pols {
		if !selects(&p.Spec.PodSelector, pod) && !(len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.PodSelector.MatchExpressions) == 0) {
			continue
		}
		for _, r := range p.Spec.Egress {
			if portMatches(r.Ports, proto, port) && peerMatches(r.To, peerNS, peerPod, ip) {
				return true
			}
		}
	}
	return false
}

func ingressAllowed(pols map[string]*networkingv1.NetworkPolicy, pod map[string]string, proto corev1.Protocol, port int32) bool {
	for _, p := range pols {
		if !selects(&p.Spec.PodSelector, pod) && !(len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.PodSelector.MatchExpressions) == 0) {
			continue
		}
		for _, r := range p.Spec.Ingress {
			if portMatches(r.Ports, proto, port) {
				return true
			}
		}
	}
	return false
}

func portMatches(ports []networkingv1.NetworkPolicyPort, proto corev1.Protocol, port int32) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp == proto && (p.Port == nil || p.Port.IntVal == port) {
			return true
		}
	}
	return false
}

func peerMatches(peers []networkingv1.NetworkPolicyPeer, ns string, pod map[string]string, ip string) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		if p.IPBlock != nil {
			if ip != "" && cidrContains(p.IPBlock.CIDR, ip) && !anyContains(p.IPBlock.Except, ip) {
				return true
			}
			continue
		}
		if ip != "" {
			continue // selector peers name pods, not public addresses
		}
		nsOK := p.NamespaceSelector == nil || selects(p.NamespaceSelector, map[string]string{"kubernetes.io/metadata.name": ns})
		podOK := p.PodSelector == nil || selects(p.PodSelector, pod)
		if nsOK && podOK {
			return true
		}
	}
	return false
}
