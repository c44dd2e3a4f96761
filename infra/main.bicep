// orderflow on AKS with Microsoft Entra Workload ID: cluster, registry, monitoring,
// one identity per service with a federated credential per service account, and the
// data services with least-privilege role assignments scoped as narrowly as Azure allows.
// Each non-obvious choice cites its public source next to it.
// Deploy with scripts/deploy.sh; the outputs feed deploy/overlays/aks/aks.env.
targetScope = 'resourceGroup'

import { roleIds } from 'modules/roles.bicep'

@description('Azure region for every resource.')
param location string = resourceGroup().location

@description('Short prefix for resource names: lowercase letters and digits only (registry and storage account names allow nothing else).')
@minLength(3)
@maxLength(10)
param baseName string = 'orderflow'

@description('Object id of the user (or pipeline principal) running deploy.sh: Key Vault Secrets Officer to set the generated secret, and AKS RBAC Cluster Admin to apply the manifests. Empty: no assignments.')
param deployerPrincipalId string = ''

@description('User, Group or ServicePrincipal. A plain string (no @allowed) so main.bicepparam can read it from the environment; ARM validates it.')
param deployerPrincipalType string = 'User'

@description('Container Insights through the omsagent add-on (the GA path; azureMonitorProfile.containerInsights is preview) and its data collection rule.')
param enableContainerInsights bool = false

@description('Managed Prometheus: Azure Monitor workspace + DCE + DCR + association (Azure/prometheus-collector FullAzureMonitorMetricsProfile.bicep).')
param enableManagedPrometheus bool = false

param systemNodeVmSize string = 'Standard_D2s_v5'
@minValue(1)
param systemNodeMinCount int = 2
@minValue(1)
param systemNodeMaxCount int = 3

// Names every layer must agree on (docs/names.md; deploy/ tests parse these lines).
var k8sNamespace = 'orderflow'
var frontendServiceAccount = 'frontend'
var backendServiceAccount = 'backend'
// The KEDA add-on's operator: the scaler always presents this SA's token
// (https://keda.sh/docs/2.21/authentication-providers/azure-ad-workload-identity/).
var kedaNamespace = 'kube-system'
var kedaServiceAccount = 'keda-operator'
var cosmosDatabaseName = 'orderflow'
var cosmosContainerName = 'orders'
var cosmosPartitionKeyPath = '/customerId'
var attachmentsContainerName = 'attachments'
var receiptsContainerName = 'receipts'
var ordersQueueName = 'orders'
var eventsTopicName = 'order-events'
var eventsSubscriptionName = 'frontend'
var receiptKeySecretName = 'receipt-signing-key'

// Globally unique names: a short hash of the resource group keeps redeploys stable.
var suffix = take(uniqueString(resourceGroup().id), 6)
var names = {
  logAnalytics: 'log-${baseName}-${suffix}'
  prometheus: 'amw-${baseName}-${suffix}'
  acr: 'cr${baseName}${suffix}'
  aks: 'aks-${baseName}-${suffix}'
  keyVault: 'kv-${baseName}-${suffix}'
  cosmos: 'cosmos-${baseName}-${suffix}'
  storage: 'st${baseName}${suffix}'
  serviceBus: 'sb-${baseName}-${suffix}'
  frontendIdentity: 'id-${baseName}-frontend'
  backendIdentity: 'id-${baseName}-backend'
  scalerIdentity: 'id-${baseName}-scaler'
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    name: names.logAnalytics
  }
}

module acr 'modules/acr.bicep' = {
  name: 'acr'
  params: {
    location: location
    name: names.acr
  }
}

module aks 'modules/aks.bicep' = {
  name: 'aks'
  params: {
    location: location
    name: names.aks
    acrName: acr.outputs.name
    logAnalyticsWorkspaceId: monitoring.outputs.id
    enableContainerInsights: enableContainerInsights
    enableManagedPrometheus: enableManagedPrometheus
    systemNodeVmSize: systemNodeVmSize
    systemNodeMinCount: systemNodeMinCount
    systemNodeMaxCount: systemNodeMaxCount
    deployerPrincipalId: deployerPrincipalId
    deployerPrincipalType: deployerPrincipalType
  }
}

module containerInsights 'modules/container-insights.bicep' = if (enableContainerInsights) {
  name: 'container-insights'
  params: {
    location: location
    clusterName: aks.outputs.name
    logAnalyticsWorkspaceId: monitoring.outputs.id
  }
}

module prometheus 'modules/prometheus.bicep' = if (enableManagedPrometheus) {
  name: 'prometheus'
  params: {
    location: location
    clusterName: aks.outputs.name
    workspaceName: names.prometheus
  }
}

// One identity per service; one federated credential per service account.
module frontendIdentity 'modules/identity.bicep' = {
  name: 'identity-frontend'
  params: {
    location: location
    name: names.frontendIdentity
    issuer: aks.outputs.oidcIssuerUrl
    serviceAccounts: [{ namespace: k8sNamespace, name: frontendServiceAccount }]
  }
}

module backendIdentity 'modules/identity.bicep' = {
  name: 'identity-backend'
  params: {
    location: location
    name: names.backendIdentity
    issuer: aks.outputs.oidcIssuerUrl
    serviceAccounts: [{ namespace: k8sNamespace, name: backendServiceAccount }]
  }
}

// KEDA's azure-servicebus scaler runs inside keda-operator and exchanges that SA's
// token; identityId only picks the client id (kedacore/keda
// pkg/scalers/azure/azure_aad_workload_identity.go).
// A dedicated identity keeps the scaler's right (read queue runtime properties) off
// the backend identity, and the backend's data rights off the operator.
module scalerIdentity 'modules/identity.bicep' = {
  name: 'identity-scaler'
  params: {
    location: location
    name: names.scalerIdentity
    issuer: aks.outputs.oidcIssuerUrl
    serviceAccounts: [{ namespace: kedaNamespace, name: kedaServiceAccount }]
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    name: names.keyVault
    readerPrincipalIds: [frontendIdentity.outputs.principalId, backendIdentity.outputs.principalId]
    deployerPrincipalId: deployerPrincipalId
    deployerPrincipalType: deployerPrincipalType
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  params: {
    location: location
    name: names.cosmos
    databaseName: cosmosDatabaseName
    containerName: cosmosContainerName
    partitionKeyPath: cosmosPartitionKeyPath
    contributorPrincipalIds: [frontendIdentity.outputs.principalId, backendIdentity.outputs.principalId]
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    name: names.storage
    attachmentsContainerName: attachmentsContainerName
    receiptsContainerName: receiptsContainerName
    // The frontend stores attachments and serves receipts; the backend reads
    // attachments and writes receipts.
    attachmentsAssignments: [
      { principalId: frontendIdentity.outputs.principalId, roleId: roleIds.storageBlobDataContributor }
      { principalId: backendIdentity.outputs.principalId, roleId: roleIds.storageBlobDataReader }
    ]
    receiptsAssignments: [
      { principalId: frontendIdentity.outputs.principalId, roleId: roleIds.storageBlobDataReader }
      { principalId: backendIdentity.outputs.principalId, roleId: roleIds.storageBlobDataContributor }
    ]
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  params: {
    location: location
    name: names.serviceBus
    queueName: ordersQueueName
    topicName: eventsTopicName
    subscriptionName: eventsSubscriptionName
    queueAssignments: [
      { principalId: frontendIdentity.outputs.principalId, roleId: roleIds.serviceBusDataSender }
      { principalId: backendIdentity.outputs.principalId, roleId: roleIds.serviceBusDataReceiver }
      // The scaler calls GetQueueRuntimeProperties (a manage operation). Receiver is
      // unverified for it (kedacore/keda#7822); AKS's walkthrough uses Data Owner on the
      // namespace (https://learn.microsoft.com/azure/aks/keda-workload-identity).
      // Narrowest documented option: Data Owner on this one queue.
      { principalId: scalerIdentity.outputs.principalId, roleId: roleIds.serviceBusDataOwner }
    ]
    topicAssignments: [
      { principalId: backendIdentity.outputs.principalId, roleId: roleIds.serviceBusDataSender }
    ]
    subscriptionAssignments: [
      { principalId: frontendIdentity.outputs.principalId, roleId: roleIds.serviceBusDataReceiver }
    ]
  }
}

// Everything deploy.sh renders into deploy/overlays/aks/aks.env.
output tenantId string = tenant().tenantId
output authorityHost string = environment().authentication.loginEndpoint
output clusterName string = aks.outputs.name
output oidcIssuerUrl string = aks.outputs.oidcIssuerUrl
output acrName string = acr.outputs.name
output acrLoginServer string = acr.outputs.loginServer
output frontendClientId string = frontendIdentity.outputs.clientId
output backendClientId string = backendIdentity.outputs.clientId
output scalerClientId string = scalerIdentity.outputs.clientId
output keyVaultName string = keyVault.outputs.name
output keyVaultUrl string = keyVault.outputs.uri
output receiptKeySecretName string = receiptKeySecretName
output cosmosAccountName string = cosmos.outputs.name
output cosmosEndpoint string = cosmos.outputs.endpoint
output cosmosDatabase string = cosmosDatabaseName
output cosmosContainer string = cosmosContainerName
output storageAccountName string = storage.outputs.name
output storageBlobEndpoint string = storage.outputs.blobEndpoint
output attachmentsContainer string = attachmentsContainerName
output receiptsContainer string = receiptsContainerName
output serviceBusNamespaceName string = serviceBus.outputs.name
output serviceBusNamespace string = serviceBus.outputs.fqdn
output ordersQueue string = ordersQueueName
output eventsTopic string = eventsTopicName
output eventsSubscription string = eventsSubscriptionName
output k8sNamespace string = k8sNamespace
