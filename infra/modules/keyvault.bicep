// Key Vault in RBAC mode with purge protection. The app reads one secret
// (receipt-signing-key); deploy.sh generates and writes it.
import { roleIds } from 'roles.bicep'

param location string
param name string
@description('Principal ids that read secrets (the service identities).')
param readerPrincipalIds string[]
@description('Object id of the deploying user: Secrets Officer so deploy.sh can set the generated secret. Empty: none.')
param deployerPrincipalId string
@description('User, Group or ServicePrincipal. A plain string (no @allowed) so main.bicepparam can read it from the environment; ARM validates it.')
param deployerPrincipalType string

resource vault 'Microsoft.KeyVault/vaults@2026-02-01' = {
  name: name
  location: location
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    // 2026-02-01 defaults to RBAC for new vaults, but the resource schema's text
    // (Azure/bicep-types-az, Microsoft.KeyVault 2026-02-01) still says false: set it
    // explicitly (https://learn.microsoft.com/azure/key-vault/general/access-control-default).
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    // Irreversible: the vault name stays reserved for the retention period after a delete.
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

// Scope: the vault, not the secret. A secret-scoped assignment needs the secret to
// exist, and the secret is created by deploy.sh after this deployment (its value
// must never pass through a template or a deployment history). The vault holds
// only this one secret, so the effective reach is the same.
resource readers 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in readerPrincipalIds: {
    name: guid(vault.id, principalId, roleIds.keyVaultSecretsUser)
    scope: vault
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource deployerOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, roleIds.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsOfficer)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
