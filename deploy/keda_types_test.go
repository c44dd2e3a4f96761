package deploy_test

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KEDA v1alpha1 types, trimmed to the fields of the CRD schemas this project may use
// (KEDA config/crd/bases/keda.sh_scaledobjects.yaml and keda.sh_triggerauthentications.yaml,
// kedacore/keda-docs content/docs/2.21/reference/scaledobject-spec.md). Decoded strictly, so
// a misspelt or unsupported field fails the test instead of being dropped by the API server.

type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              scaledObjectSpec `json:"spec"`
}

type scaledObjectSpec struct {
	ScaleTargetRef        *scaleTarget `json:"scaleTargetRef"`
	PollingInterval       *int32       `json:"pollingInterval,omitempty"`
	InitialCooldownPeriod *int32       `json:"initialCooldownPeriod,omitempty"`
	CooldownPeriod        *int32       `json:"cooldownPeriod,omitempty"`
	IdleReplicaCount      *int32       `json:"idleReplicaCount,omitempty"`
	MinReplicaCount       *int32       `json:"minReplicaCount,omitempty"`
	MaxReplicaCount       *int32       `json:"maxReplicaCount,omitempty"`
	Fallback              *struct {
		FailureThreshold int32 `json:"failureThreshold"`
		Replicas         int32 `json:"replicas"`
	} `json:"fallback,omitempty"`
	Triggers []scaleTrigger `json:"triggers"`
}

type scaleTarget struct {
	APIVersion             string `json:"apiVersion,omitempty"`
	Kind                   string `json:"kind,omitempty"`
	Name                   string `json:"name"`
	EnvSourceContainerName string `json:"envSourceContainerName,omitempty"`
}

type scaleTrigger struct {
	Type             string `json:"type"`
	Name             string `json:"name,omitempty"`
	UseCachedMetrics bool   `json:"useCachedMetrics,omitempty"`
	MetricType       string `json:"metricType,omitempty"`
	// additionalProperties: {type: string} in the CRD: numbers must be quoted.
	Metadata          map[string]string `json:"metadata"`
	AuthenticationRef *struct {
		Name string `json:"name"`
		Kind string `json:"kind,omitempty"`
	} `json:"authenticationRef,omitempty"`
}

type triggerAuthentication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		PodIdentity *struct {
			Provider              string `json:"provider"`
			IdentityID            string `json:"identityId,omitempty"`
			IdentityTenantID      string `json:"identityTenantId,omitempty"`
			IdentityAuthorityHost string `json:"identityAuthorityHost,omitempty"`
		} `json:"podIdentity,omitempty"`
		SecretTargetRef []struct {
			Parameter string `json:"parameter"`
			Name      string `json:"name"`
			Key       string `json:"key"`
		} `json:"secretTargetRef,omitempty"`
		Env []struct {
			Parameter     string `json:"parameter"`
			Name          string `json:"name"`
			ContainerName string `json:"containerName,omitempty"`
		} `json:"env,omitempty"`
	} `json:"spec"`
}

// validate applies the CRD's required fields and enums, and the azure-servicebus
// scaler's metadata rules (KEDA pkg/scalers/azure_servicebus_scaler.go).
func (s *scaledObject) validate(podIdentity bool) error {
	if s.Spec.ScaleTargetRef == nil || s.Spec.ScaleTargetRef.Name == "" {
		return fmt.Errorf("spec.scaleTargetRef.name is required")
	}
	if len(s.Spec.Triggers) == 0 {
		return fmt.Errorf("spec.triggers needs at least one trigger")
	}
	if min, max := s.Spec.MinReplicaCount, s.Spec.MaxReplicaCount; min != nil && max != nil && *min > *max {
		return fmt.Errorf("minReplicaCount %d > maxReplicaCount %d", *min, *max)
	}
	for i, tr := range s.Spec.Triggers {
		if tr.Type == "" || tr.Metadata == nil {
			return fmt.Errorf("triggers[%d]: type and metadata are required", i)
		}
		if tr.MetricType != "" && !slices.Contains([]string{"AverageValue", "Value", "Utilization"}, tr.MetricType) {
			return fmt.Errorf("triggers[%d].metricType %q", i, tr.MetricType)
		}
		if tr.Type != "azure-servicebus" {
			continue
		}
		m := tr.Metadata
		queue, topic, sub := m["queueName"] != "", m["topicName"] != "", m["subscriptionName"] != ""
		if queue == (topic && sub) || (topic != sub) {
			return fmt.Errorf("triggers[%d]: azure-servicebus needs queueName or topicName+subscriptionName", i)
		}
		if podIdentity && m["namespace"] == "" {
			return fmt.Errorf("triggers[%d]: azure-servicebus with pod identity needs namespace", i)
		}
		if podIdentity && m["connectionFromEnv"] != "" {
			return fmt.Errorf("triggers[%d]: connectionFromEnv and pod identity together", i)
		}
	}
	return nil
}

func (t *triggerAuthentication) validate() error {
	if p := t.Spec.PodIdentity; p != nil {
		if !slices.Contains([]string{"azure-workload", "gcp", "aws", "aws-eks", "none"}, p.Provider) {
			return fmt.Errorf("spec.podIdentity.provider %q is not in the CRD's enum", p.Provider)
		}
	}
	return nil
}
