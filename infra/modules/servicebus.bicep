// Service Bus Standard (topics need Standard or above), SAS keys off: Entra only.
// Roles are scoped to the queue, topic or subscription, never the namespace
// (AZD service-bus-messaging/authenticate-application.md; AVM service-bus/namespace/queue).
param location string
param name string
param queueName string
param topicName string
param subscriptionName string
@description('Role assignments on the queue.')
param queueAssignments {
  principalId: string
  roleId: string
}[]
@description('Role assignments on the topic.')
param topicAssignments {
  principalId: string
  roleId: string
}[]
@description('Role assignments on the topic subscription.')
param subscriptionAssignments {
  principalId: string
  roleId: string
}[]

resource namespace 'Microsoft.ServiceBus/namespaces@2026-01-01' = {
  name: name
  location: location
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
  }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2026-01-01' = {
  parent: namespace
  name: queueName
  properties: {
    // The worker completes within a minute or renews; 10 tries then dead-letter.
    lockDuration: 'PT1M'
    maxDeliveryCount: 10
    deadLetteringOnMessageExpiration: true
    // The frontend sets MessageId = order id, so a retried send is dropped.
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
  }
}

resource topic 'Microsoft.ServiceBus/namespaces/topics@2026-01-01' = {
  parent: namespace
  name: topicName
  properties: {
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
  }
}

resource eventsSubscription 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2026-01-01' = {
  parent: topic
  name: subscriptionName
  properties: {
    lockDuration: 'PT1M'
    maxDeliveryCount: 10
    deadLetteringOnMessageExpiration: true
  }
}

resource queueRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in queueAssignments: {
    name: guid(queue.id, a.principalId, a.roleId)
    scope: queue
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.roleId)
      principalId: a.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource topicRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in topicAssignments: {
    name: guid(topic.id, a.principalId, a.roleId)
    scope: topic
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.roleId)
      principalId: a.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource subscriptionRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in subscriptionAssignments: {
    name: guid(eventsSubscription.id, a.principalId, a.roleId)
    scope: eventsSubscription
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.roleId)
      principalId: a.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

output name string = namespace.name
// Fully qualified host name, the form SERVICEBUS_NAMESPACE takes (docs/names.md),
// cut from serviceBusEndpoint ('https://<name>.servicebus.windows.net:443/') so no
// cloud-specific suffix is hard-coded.
output fqdn string = split(split(namespace.properties.serviceBusEndpoint, '/')[2], ':')[0]
