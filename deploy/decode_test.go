package deploy_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// kinds maps every kind the manifests may contain to its apiVersion and Go type.
// An object of another kind or version fails the test: adding one is a decision.
var kinds = map[string]struct {
	apiVersion string
	new        func() any
}{
	"Namespace":               {"v1", func() any { return &corev1.Namespace{} }},
	"ServiceAccount":          {"v1", func() any { return &corev1.ServiceAccount{} }},
	"ConfigMap":               {"v1", func() any { return &corev1.ConfigMap{} }},
	"Service":                 {"v1", func() any { return &corev1.Service{} }},
	"Deployment":              {"apps/v1", func() any { return &appsv1.Deployment{} }},
	"PodDisruptionBudget":     {"policy/v1", func() any { return &policyv1.PodDisruptionBudget{} }},
	"NetworkPolicy":           {"networking.k8s.io/v1", func() any { return &networkingv1.NetworkPolicy{} }},
	"HorizontalPodAutoscaler": {"autoscaling/v2", func() any { return &autoscalingv2.HorizontalPodAutoscaler{} }},
	"ScaledObject":            {"keda.sh/v1alpha1", func() any { return &scaledObject{} }},
	"TriggerAuthentication":   {"keda.sh/v1alpha1", func() any { return &triggerAuthentication{} }},
}

func TestEveryKustomizationBuildsAndDecodesStrictly(t *testing.T) {
	for _, dir := range append([]string{"base"}, overlays(t)...) {
		t.Run(dir, func(t *testing.T) {
			objs := render(t, dir)
			if len(objs) == 0 {
				t.Fatal("no objects")
			}
			for _, o := range objs {
				k, ok := kinds[o.Kind]
				if !ok {
					t.Errorf("%s: kind not expected in this project", o)
					continue
				}
				if o.APIVersion != k.apiVersion {
					t.Errorf("%s: apiVersion %s, want %s", o, o.APIVersion, k.apiVersion)
				}
				v := k.new()
				if err := strictDecode(o.JSON, v); err != nil {
					t.Errorf("%s: %v", o, err)
					continue
				}
				if o.Kind != "Namespace" && o.Namespace != "orderflow" {
					t.Errorf("%s: namespace %q, want orderflow", o, o.Namespace)
				}
				switch v := v.(type) {
				case *scaledObject:
					if err := v.validate(true); err != nil {
						t.Errorf("%s: %v", o, err)
					}
				case *triggerAuthentication:
					if err := v.validate(); err != nil {
						t.Errorf("%s: %v", o, err)
					}
				}
			}
		})
	}
}

// The strict decoder is what catches typos: prove it does on a known-bad manifest.
func TestStrictDecodeRejectsUnknownFields(t *testing.T) {
	bad := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"replica":2}}`)
	if err := strictDecode(bad, &appsv1.Deployment{}); err == nil {
		t.Fatal("spec.replica (typo) decoded without error")
	}
	so := []byte(`{"apiVersion":"keda.sh/v1alpha1","kind":"ScaledObject","metadata":{"name":"x"},"spec":{"scaleTargetRef":{"name":"b"},"triggers":[{"type":"azure-servicebus","metadata":{"queueName":"q","messageCount":5}}]}}`)
	if err := strictDecode(so, &scaledObject{}); err == nil {
		t.Fatal("a numeric metadata value decoded, but the CRD wants strings")
	}
	var s scaledObject
	_ = strictDecode([]byte(`{"spec":{"scaleTargetRef":{"name":"b"},"triggers":[{"type":"azure-servicebus","metadata":{"topicName":"t"}}]}}`), &s)
	if s.validate(true) == nil {
		t.Fatal("topicName without subscriptionName passed validation")
	}
}
