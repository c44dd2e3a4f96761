// One user-assigned managed identity and its federated identity credentials.
// Parallel FIC writes on one identity fail with 409
// ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity, so the loop
// runs one at a time (@batchSize(1)); different identities still deploy in parallel
// (https://learn.microsoft.com/entra/workload-id/workload-identity-federation-considerations;
// https://github.com/Azure/bicep/issues/10928).
param location string
param name string
@description('OIDC issuer URL of the AKS cluster.')
param issuer string
@description('Kubernetes service accounts allowed to act as this identity.')
param serviceAccounts {
  namespace: string
  name: string
}[]

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: name
  location: location
}

@batchSize(1)
resource fics 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2024-11-30' = [
  for sa in serviceAccounts: {
    parent: identity
    name: '${sa.namespace}-${sa.name}'
    properties: {
      issuer: issuer
      // Subject format from AWI docs/book/src/topics/federated-identity-credential.md.
      subject: 'system:serviceaccount:${sa.namespace}:${sa.name}'
      // Exactly one audience, the token exchange one.
      audiences: ['api://AzureADTokenExchange']
    }
  }
]

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
