// Managed Prometheus: the cluster flag alone is not enough; it needs an Azure Monitor
// workspace, a DCE, a DCR for stream Microsoft-PrometheusMetrics and a DCR association
// on the cluster (https://github.com/Azure/prometheus-collector,
// AddonBicepTemplate/FullAzureMonitorMetricsProfile.bicep).
param location string
param clusterName string
param workspaceName string

resource cluster 'Microsoft.ContainerService/managedClusters@2026-05-01' existing = {
  name: clusterName
}

resource workspace 'Microsoft.Monitor/accounts@2023-04-03' = {
  name: workspaceName
  location: location
}

// DCE/DCR names are limited to 44 characters.
var dcName = take('MSProm-${location}-${clusterName}', 44)

resource dce 'Microsoft.Insights/dataCollectionEndpoints@2022-06-01' = {
  name: dcName
  location: location
  kind: 'Linux'
  properties: {}
}

resource dcr 'Microsoft.Insights/dataCollectionRules@2022-06-01' = {
  name: dcName
  location: location
  kind: 'Linux'
  properties: {
    dataCollectionEndpointId: dce.id
    dataSources: {
      prometheusForwarder: [
        {
          name: 'PrometheusDataSource'
          streams: ['Microsoft-PrometheusMetrics']
          labelIncludeFilter: {}
        }
      ]
    }
    destinations: {
      monitoringAccounts: [
        {
          name: 'MonitoringAccount1'
          accountResourceId: workspace.id
        }
      ]
    }
    dataFlows: [
      {
        streams: ['Microsoft-PrometheusMetrics']
        destinations: ['MonitoringAccount1']
      }
    ]
  }
}

resource dcra 'Microsoft.Insights/dataCollectionRuleAssociations@2022-06-01' = {
  name: 'MSProm-${clusterName}'
  scope: cluster
  properties: {
    dataCollectionRuleId: dcr.id
  }
}

output workspaceId string = workspace.id
