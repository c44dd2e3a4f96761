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
	be := deps["backend"].Spec.Template.Labels
	const ns = "orderflow"
	stranger := map[string]string{"app.kubernetes.io/name": "debug-shell"}
	if !ingressAllowed(pols, fe, "ingress-nginx", stranger, corev1.ProtocolTCP, 8080) {
		t.Errorf("frontend: ingress on 8080 not allowed")
	}
	if ingressAllowed(pols, fe, ns, stranger, corev1.ProtocolTCP, 9090) {
		t.Errorf("frontend: ingress on another port allowed")
	}
	if ingressAllowed(pols, be, "other", fe, corev1.ProtocolTCP, 8090) {
		t.Errorf("backend: a frontend-labelled pod of another namespace may reach the health port")
	}
	// The frontend reads the backend's identity from its health port (the page's
	// backend panel): egress from the frontend and ingress to the backend, both on
	// 8090, both naming the other side's pods.
	if !egressAllowed(pols, fe, ns, be, "", corev1.ProtocolTCP, 8090) {
		t.Errorf("frontend: egress to the backend's health port not allowed")
	}
	if !ingressAllowed(pols, be, ns, fe, corev1.ProtocolTCP, 8090) {
		t.Errorf("backend: the frontend may not reach the health port")
	}
	if ingressAllowed(pols, be, ns, stranger, corev1.ProtocolTCP, 8090) {
		t.Errorf("backend: a pod other than the frontend may reach the health port")
	}
	if ingressAllowed(pols, be, ns, fe, corev1.ProtocolTCP, 8080) {
		t.Errorf("backend: ingress on a port other than the health port allowed")
	}
	if egressAllowed(pols, be, ns, fe, "", corev1.ProtocolTCP, 8080) {
		t.Errorf("backend: egress to the frontend allowed; the backend calls only Azure")
	}
}

func egressAllowed(pols map[string]*networkingv1.NetworkPolicy, pod map[string]string, peerNS string, peerPod map[string]string, ip string, proto corev1.Protocol, port int32) bool {
	for _, p := range pols {
		if !selects(&p.Spec.PodSelector, pod) && !(len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.PodSelector.MatchExpressions) == 0) {
			continue
		}
		for _, r := range p.Spec.Egress {
			if portMatches(r.Ports, proto, port) && peerMatches(r.To, p.Namespace, peerNS, peerPod, ip) {
				return true
			}
		}
	}
	return false
}

// ingressAllowed reports whether pod admits a pod labelled peerPod in namespace
// peerNS on port: when no policy selects pod (no isolation), or one of the policies
// that do has a rule matching both.
func ingressAllowed(pols map[string]*networkingv1.NetworkPolicy, pod map[string]string, peerNS string, peerPod map[string]string, proto corev1.Protocol, port int32) bool {
	isolated := false
	for _, p := range pols {
		if !selects(&p.Spec.PodSelector, pod) && !(len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.PodSelector.MatchExpressions) == 0) {
			continue
		}
		isolated = true
		for _, r := range p.Spec.Ingress {
			if portMatches(r.Ports, proto, port) && peerMatches(r.From, p.Namespace, peerNS, peerPod, "") {
				return true
			}
		}
	}
	return !isolated
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

// peerMatches reports whether a rule's peers include the pod labelled pod in
// namespace ns, or the address ip. A peer with a pod selector and no namespace
// selector means pods in the policy's own namespace (policyNS), as the
// NetworkPolicy API defines it
// (https://kubernetes.io/docs/concepts/services-networking/network-policies/#behavior-of-to-and-from-selectors).
func peerMatches(peers []networkingv1.NetworkPolicyPeer, policyNS, ns string, pod map[string]string, ip string) bool {
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
		nsOK := ns == policyNS
		if p.NamespaceSelector != nil {
			nsOK = selects(p.NamespaceSelector, map[string]string{"kubernetes.io/metadata.name": ns})
		}
		podOK := p.PodSelector == nil || selects(p.PodSelector, pod)
		if nsOK && podOK {
			return true
		}
	}
	return false
}
