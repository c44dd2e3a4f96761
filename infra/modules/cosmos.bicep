// Cosmos DB for NoSQL, serverless, keys disabled: only Entra tokens with a data-plane
// role assignment get in.
import { cosmosDataContributorId } from 'roles.bicep'

param location string
param name string
param databaseName string
param containerName string
param partitionKeyPath string
@description('Principal ids that get Cosmos DB Built-in Data Contributor on the database.')
param contributorPrincipalIds string[]

resource account 'Microsoft.DocumentDB/databaseAccounts@2026-03-15' = {
  name: name
  location: location
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    capabilities: [
      {
        name: 'EnableServerless'
      }
    ]
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2026-03-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
  }
}

// Serverless: no throughput options on the container (AVM sql-database/container).
resource container 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2026-03-15' = {
  parent: database
  name: containerName
  properties: {
    resource: {
      id: containerName
      partitionKey: {
        paths: [partitionKeyPath]
        kind: 'Hash'
        version: 2
      }
    }
  }
}

// Data-plane RBAC scoped to the database: the narrowest scope that still lets the
// services use every container they need ('${account.id}/dbs/<db>',
// https://learn.microsoft.com/azure/cosmos-db/nosql/security/reference-data-plane-roles).
resource dataContributors 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2026-03-15' = [
  for principalId in contributorPrincipalIds: {
    parent: account
    name: guid(account.id, databaseName, principalId, cosmosDataContributorId)
    properties: {
      roleDefinitionId: '${account.id}/sqlRoleDefinitions/${cosmosDataContributorId}'
      scope: '${account.id}/dbs/${databaseName}'
      principalId: principalId
    }
    dependsOn: [database]
  }
]

output name string = account.name
output endpoint string = account.properties.documentEndpoint
