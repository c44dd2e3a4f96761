// Storage account with shared keys off (Entra only) and two private blob containers.
// Roles are assigned per container, not per account: the narrowest scope Azure RBAC
// allows for blobs (https://github.com/Azure/bicep-registry-modules,
// avm/res/storage/storage-account/blob-service/container).
param location string
param name string
param attachmentsContainerName string
param receiptsContainerName string
@description('Role assignments on the attachments container: principal id + role definition GUID.')
param attachmentsAssignments {
  principalId: string
  roleId: string
}[]
@description('Role assignments on the receipts container.')
param receiptsAssignments {
  principalId: string
  roleId: string
}[]

resource account 'Microsoft.Storage/storageAccounts@2026-04-01' = {
  name: name
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    // null means true (Azure/bicep-types-az, Microsoft.Storage 2026-04-01
    // storageAccounts: allowSharedKeyAccess): say false explicitly.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    // TLS 1.3 is documented as unsupported for this property.
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2026-04-01' = {
  parent: account
  name: 'default'
}

resource attachments 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-04-01' = {
  parent: blobService
  name: attachmentsContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource receipts 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-04-01' = {
  parent: blobService
  name: receiptsContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource attachmentsRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in attachmentsAssignments: {
    name: guid(attachments.id, a.principalId, a.roleId)
    scope: attachments
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.roleId)
      principalId: a.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource receiptsRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in receiptsAssignments: {
    name: guid(receipts.id, a.principalId, a.roleId)
    scope: receipts
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.roleId)
      principalId: a.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
