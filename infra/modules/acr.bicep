// Container registry. Admin user and anonymous pull stay off: AKS pulls with its
// kubelet identity (AcrPull, granted in aks.bicep) and deploy.sh builds with `az acr build`.
param location string
param name string

resource registry 'Microsoft.ContainerRegistry/registries@2025-11-01' = {
  name: name
  location: location
  sku: {
    name: 'Standard'
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    // AcrPull is ignored in ABAC repository-permission mode
    // (https://learn.microsoft.com/azure/container-registry/container-registry-rbac-abac-repository-permissions),
    // so keep the legacy mode the AcrPull assignment relies on.
    roleAssignmentMode: 'LegacyRegistryPermissions'
  }
}

output name string = registry.name
output id string = registry.id
output loginServer string = registry.properties.loginServer
