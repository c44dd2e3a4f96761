// Parameters for infra/main.bicep. deploy.sh passes deployerPrincipalId on the
// command line (it overrides the value here); the environment variables let CI set
// the optional features without editing this file.
using './main.bicep'

param baseName = 'orderflow'
param deployerPrincipalId = readEnvironmentVariable('DEPLOYER_PRINCIPAL_ID', '')
param deployerPrincipalType = readEnvironmentVariable('DEPLOYER_PRINCIPAL_TYPE', 'User')
param enableContainerInsights = bool(readEnvironmentVariable('ENABLE_CONTAINER_INSIGHTS', 'false'))
param enableManagedPrometheus = bool(readEnvironmentVariable('ENABLE_MANAGED_PROMETHEUS', 'false'))
param systemNodeVmSize = 'Standard_D2s_v5'
param systemNodeMinCount = 2
param systemNodeMaxCount = 3
