#!/usr/bin/env bash
# Deploys orderflow to Azure: infrastructure (infra/main.bicep), the receipt signing
# key, both images (az acr build, or a local docker buildx push where ACR Tasks are
# not allowed), then the Kubernetes manifests (deploy/overlays/aks).
# Idempotent: run it again to roll out a new build.
#
# Usage: scripts/deploy.sh -g <resource-group> [-l <location>] [--tag <image-tag>] [--skip-infra]
#          [--deployer-object-id <guid> [--deployer-type User|ServicePrincipal|Group]]
#          [--build acr|local]
# Environment: ENABLE_CONTAINER_INSIGHTS=true, ENABLE_MANAGED_PROMETHEUS=true (read by
# infra/main.bicepparam); DEPLOYER_PRINCIPAL_ID / DEPLOYER_PRINCIPAL_TYPE as the flags.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/common.sh
source scripts/lib/common.sh
# shellcheck source=lib/deployer.sh
source scripts/lib/deployer.sh

rg=${AZURE_RESOURCE_GROUP:-}
location=${AZURE_LOCATION:-westeurope}
tag=""
skip_infra=false
build=auto
deployer_id=${DEPLOYER_PRINCIPAL_ID:-}
deployer_type=${DEPLOYER_PRINCIPAL_TYPE:-}
deployment=orderflow
secret_name=receipt-signing-key
namespace=orderflow

while (($#)); do
  case $1 in
  -g | --resource-group) rg=$2; shift 2 ;;
  -l | --location) location=$2; shift 2 ;;
  --tag) tag=$2; shift 2 ;;
  --skip-infra) skip_infra=true; shift ;;
  --deployer-object-id) deployer_id=$2; shift 2 ;;
  --deployer-type) deployer_type=$2; shift 2 ;;
  --build) build=$2; shift 2 ;;
  -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
  *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ -n $rg ]] || die "give the resource group: scripts/deploy.sh -g <name> (or set AZURE_RESOURCE_GROUP)"
case $build in auto | acr | local) ;; *) die "--build takes acr or local, not '$build'" ;; esac

log "checking prerequisites"
require_az_login
need kubectl "Install kubectl (it includes kustomize as 'kubectl apply -k'): az aks install-cli"
need kubelogin "The cluster uses Entra ID without local accounts; kubectl needs kubelogin: az aks install-cli"
need openssl "Install OpenSSL (it generates the receipt signing key)."
kubectl kustomize --help >/dev/null 2>&1 || die "this kubectl has no built-in kustomize; install kubectl 1.14 or newer"
if [[ -z $tag ]]; then
  tag=$(git rev-parse --short HEAD 2>/dev/null || date +%Y%m%d%H%M%S)
  git diff --quiet HEAD 2>/dev/null || tag="$tag-dirty-$(date +%H%M%S)"
fi

# The deploying principal gets Key Vault Secrets Officer (to set the secret) and
# AKS RBAC Cluster Admin (to apply the manifests); nothing else.
log "deploying principal"
resolve_deployer
DEPLOYER_PRINCIPAL_ID=$deployer_id
DEPLOYER_PRINCIPAL_TYPE=$deployer_type
printf 'deployer: %s (%s)\n' "$deployer_id" "$deployer_type" >&2
export DEPLOYER_PRINCIPAL_ID DEPLOYER_PRINCIPAL_TYPE

if ! $skip_infra; then
  log "resource group $rg ($location)"
  az group create -n "$rg" -l "$location" -o none
  log "infrastructure (infra/main.bicep, about 10 minutes the first time)"
  az deployment group create -g "$rg" -n "$deployment" --parameters infra/main.bicepparam -o none
fi

log "reading the deployment outputs"
# One call, one value per line, in this order.
outputs=(tenantId clusterName acrName acrLoginServer frontendClientId backendClientId scalerClientId
  keyVaultName keyVaultUrl cosmosEndpoint storageBlobEndpoint serviceBusNamespace serviceBusNamespaceName)
query=$(printf 'properties.outputs.%s.value,' "${outputs[@]}")
mapfile -t values < <(az deployment group show -g "$rg" -n "$deployment" --query "[${query%,}]" -o tsv)
((${#values[@]} == ${#outputs[@]})) || die "deployment '$deployment' in $rg has not all outputs; run without --skip-infra"
declare -A out
for i in "${!outputs[@]}"; do out[${outputs[$i]}]=${values[$i]}; done

log "receipt signing key in ${out[keyVaultName]}"
# Set only when absent: re-running must not rotate the key under running pods.
secret_count() {
  az keyvault secret list --vault-name "${out[keyVaultName]}" --query "length([?name=='$secret_name'])" -o tsv 2>/dev/null
}
# The Secrets Officer assignment may take a few minutes to reach the vault.
retry 30 10 secret_count >/dev/null || die "cannot list secrets in ${out[keyVaultName]}; is the Secrets Officer role assignment there?"
if [[ $(secret_count) == 0 ]]; then
  keyfile=$(mktemp)
  trap 'rm -f "$keyfile"' EXIT
  # 32 random bytes, base64: the value never appears on a command line.
  openssl rand -base64 32 | tr -d '\n' >"$keyfile"
  az keyvault secret set --vault-name "${out[keyVaultName]}" -n "$secret_name" --file "$keyfile" --encoding utf-8 \
    --content-type "application/octet-stream; base64" -o none
  rm -f "$keyfile"
  echo "generated $secret_name" >&2
else
  echo "$secret_name already set; left as is" >&2
fi

log "building images for ${out[acrName]} (tag $tag)"
build_images "${out[acrName]}" "${out[acrLoginServer]}" "$tag"

log "rendering deploy/overlays/aks/aks.env"
env_file=deploy/overlays/aks/aks.env
{
  echo "# Rendered by scripts/deploy.sh from deployment '$deployment' in $rg. Do not edit."
  echo "FRONTEND_IMAGE=${out[acrLoginServer]}/orderflow/frontend:$tag"
  echo "BACKEND_IMAGE=${out[acrLoginServer]}/orderflow/backend:$tag"
  echo "FRONTEND_CLIENT_ID=${out[frontendClientId]}"
  echo "BACKEND_CLIENT_ID=${out[backendClientId]}"
  echo "SCALER_CLIENT_ID=${out[scalerClientId]}"
  echo "KEYVAULT_URL=${out[keyVaultUrl]}"
  echo "COSMOS_ENDPOINT=${out[cosmosEndpoint]}"
  echo "STORAGE_BLOB_ENDPOINT=${out[storageBlobEndpoint]}"
  echo "SERVICEBUS_NAMESPACE=${out[serviceBusNamespace]}"
  echo "SERVICEBUS_NAMESPACE_NAME=${out[serviceBusNamespaceName]}"
} >"$env_file.tmp"
mv "$env_file.tmp" "$env_file"

log "cluster credentials (${out[clusterName]})"
# A kubeconfig of its own: the user's default one is left untouched.
KUBECONFIG="${XDG_CACHE_HOME:-$HOME/.cache}/orderflow/kubeconfig-${out[clusterName]}"
export KUBECONFIG
mkdir -p "$(dirname "$KUBECONFIG")"
az aks get-credentials -g "$rg" -n "${out[clusterName]}" --file "$KUBECONFIG" --overwrite-existing -o none
kubelogin convert-kubeconfig -l azurecli --kubeconfig "$KUBECONFIG"

log "applying deploy/overlays/aks"
# Azure RBAC for Kubernetes may also need a minute after the first deployment.
retry 12 10 kubectl auth can-i create deployments -n "$namespace" >/dev/null || die "no Kubernetes permissions yet; wait a minute and re-run with --skip-infra"
kubectl apply -k deploy/overlays/aks
kubectl -n "$namespace" rollout status deployment/backend --timeout=5m
kubectl -n "$namespace" rollout status deployment/frontend --timeout=5m

log "waiting for the frontend's public address"
lb_ip() { kubectl -n "$namespace" get service frontend -o jsonpath='{.status.loadBalancer.ingress[0].ip}'; }
ip=""
for _ in $(seq 60); do
  ip=$(lb_ip)
  [[ -n $ip ]] && break
  sleep 5
done
[[ -n $ip ]] || die "the frontend Service got no public IP in 5 minutes: kubectl -n $namespace describe service frontend"
printf '\norderflow is up: http://%s/\n' "$ip"
