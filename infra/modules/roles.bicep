// Built-in role definition GUIDs used in this template, in one place.
// Source: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
// (MicrosoftDocs/azure-docs articles/role-based-access-control/built-in-roles.md).
// Exported so every module refers to the same values (Bicep compile-time import).

@export()
var roleIds = {
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  // Includes listClusterUserCredential, which `az aks get-credentials` needs.
  aksRbacClusterAdmin: 'b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b'
}

// Cosmos DB data-plane roles are not Azure RBAC roles: they live under the account
// (MicrosoftDocs/azure-databases-docs reference-data-plane-roles.md).
@export()
var cosmosDataContributorId = '00000000-0000-0000-0000-000000000002'
