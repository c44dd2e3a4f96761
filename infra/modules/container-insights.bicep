// Container Insights with managed-identity auth (omsagent useAADAuth 'true', aks.bicep)
// sends data only once a data collection rule for the ContainerInsights extension is
// associated with the cluster; the Azure CLI creates it when it enables the add-on,
// a template has to declare it (Azure Monitor docs, "Enable Container insights" ARM
// templates with managed identity authentication).
param location string
param clusterName string
param logAnalyticsWorkspaceId string

resource cluster 'Microsoft.ContainerService/managedClusters@2026-05-01' existing = {
  name: clusterName
}

resource dcr 'Microsoft.Insights/dataCollectionRules@2022-06-01' = {
  name: take('MSCI-${location}-${clusterName}', 64)
  location: location
  kind: 'Linux'
  properties: {
    dataSources: {
      extensions: [
        {
          name: 'ContainerInsightsExtension'
          extensionName: 'ContainerInsights'
          streams: ['Microsoft-ContainerInsights-Group-Default']
          extensionSettings: {
            dataCollectionSettings: {
              interval: '1m'
              namespaceFilteringMode: 'Off'
              enableContainerLogV2: true
            }
          }
        }
      ]
    }
    destinations: {
      logAnalytics: [
        {
          name: 'ciworkspace'
          workspaceResourceId: logAnalyticsWorkspaceId
        }
      ]
    }
    dataFlows: [
      {
        streams: ['Microsoft-ContainerInsights-Group-Default']
        destinations: ['ciworkspace']
      }
    ]
  }
}

resource dcra 'Microsoft.Insights/dataCollectionRuleAssociations@2022-06-01' = {
  name: 'ContainerInsightsExtension'
  scope: cluster
  properties: {
    dataCollectionRuleId: dcr.id
  }
}
