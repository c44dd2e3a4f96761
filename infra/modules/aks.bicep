// AKS cluster: OIDC issuer + workload identity + KEDA add-on, Azure CNI overlay
// powered by Cilium (dataplane and network policy), one system pool, Entra ID with
// Azure RBAC for Kubernetes and no local accounts.
// Property paths: https://github.com/Azure/bicep-types-az, generated/containerservice
// Microsoft.ContainerService 2026-05-01 managedClusters.
import { roleIds } from 'roles.bicep'

param location string
param name string
param acrName string
param logAnalyticsWorkspaceId string
param enableContainerInsights bool
param enableManagedPrometheus bool
param systemNodeVmSize string
param systemNodeMinCount int
param systemNodeMaxCount int
@description('Object id of the deploying user; gets cluster admin through Azure RBAC so deploy.sh can apply the manifests. Empty: no assignment.')
param deployerPrincipalId string
@description('User, Group or ServicePrincipal. A plain string (no @allowed) so main.bicepparam can read it from the environment; ARM validates it.')
param deployerPrincipalType string

resource cluster 'Microsoft.ContainerService/managedClusters@2026-05-01' = {
  name: name
  location: location
  identity: {
    type: 'SystemAssigned'
  }
  sku: {
    name: 'Base'
    tier: 'Free'
  }
  properties: {
    dnsPrefix: name
    enableRBAC: true
    // AKS docs enable OIDC, workload identity and KEDA together (AKSD keda-workload-identity.md).
    oidcIssuerProfile: {
      enabled: true
    }
    securityProfile: {
      workloadIdentity: {
        enabled: true
      }
    }
    workloadAutoScalerProfile: {
      keda: {
        enabled: true
      }
    }
    aadProfile: {
      managed: true
      enableAzureRBAC: true
    }
    // Only valid on Entra-enabled clusters
    // (https://learn.microsoft.com/azure/aks/manage-local-accounts-managed-azure-ad), which this is.
    disableLocalAccounts: true
    networkProfile: {
      // Cilium = plugin azure + overlay + dataplane cilium; policy cilium as AVM does
      // (AKSD azure-cni-powered-by-cilium.md).
      networkPlugin: 'azure'
      networkPluginMode: 'overlay'
      networkDataplane: 'cilium'
      networkPolicy: 'cilium'
      podCidr: '10.244.0.0/16'
      serviceCidr: '10.0.0.0/16'
      dnsServiceIP: '10.0.0.10'
      loadBalancerSku: 'standard'
    }
    agentPoolProfiles: [
      {
        name: 'system'
        mode: 'System'
        osType: 'Linux'
        osSKU: 'AzureLinux'
        type: 'VirtualMachineScaleSets'
        vmSize: systemNodeVmSize
        count: systemNodeMinCount
        enableAutoScaling: true
        minCount: systemNodeMinCount
        maxCount: systemNodeMaxCount
      }
    ]
    // GA Container Insights is the omsagent add-on; azureMonitorProfile.containerInsights
    // is preview-only (https://github.com/Azure/bicep-registry-modules,
    // avm/res/container-service/managed-cluster uses addonProfiles.omsagent).
    addonProfiles: enableContainerInsights
      ? {
          omsagent: {
            enabled: true
            config: {
              logAnalyticsWorkspaceResourceID: logAnalyticsWorkspaceId
              useAADAuth: 'true'
            }
          }
        }
      : {}
    azureMonitorProfile: {
      metrics: {
        enabled: enableManagedPrometheus
      }
    }
  }
}

resource registry 'Microsoft.ContainerRegistry/registries@2025-11-01' existing = {
  name: acrName
}

// The kubelet identity pulls images (docs.azure.cn .../cluster-container-registry-integration).
resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, cluster.id, roleIds.acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.acrPull)
    principalId: cluster.properties.identityProfile.kubeletidentity.objectId
    principalType: 'ServicePrincipal'
  }
}

// With local accounts disabled, whoever runs deploy.sh needs a Kubernetes role through
// Azure RBAC. Cluster admin on this one cluster: the manifests create a namespace.
resource deployerClusterAdmin 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(cluster.id, deployerPrincipalId, roleIds.aksRbacClusterAdmin)
  scope: cluster
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.aksRbacClusterAdmin)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

output name string = cluster.name
output id string = cluster.id
output oidcIssuerUrl string = cluster.properties.oidcIssuerProfile.issuerURL
