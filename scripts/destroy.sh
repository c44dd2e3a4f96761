#!/usr/bin/env bash
# Deletes everything scripts/deploy.sh created: the resource group and the local files
# it rendered. Asks for confirmation unless --yes.
#
# Usage: scripts/destroy.sh -g <resource-group> [--yes] [--no-wait]
#
# Key Vault has purge protection: the deleted vault stays (soft-deleted, name
# reserved) for its 7-day retention. Re-deploying into a resource group of the same
# name within that time needs `az keyvault recover -n <vault>` first.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/common.sh
source scripts/lib/common.sh

rg=${AZURE_RESOURCE_GROUP:-}
yes=false
wait_flag=()
while (($#)); do
  case $1 in
  -g | --resource-group) rg=$2; shift 2 ;;
  -y | --yes) yes=true; shift ;;
  --no-wait) wait_flag=(--no-wait); shift ;;
  -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
  *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ -n $rg ]] || die "give the resource group: scripts/destroy.sh -g <name> (or set AZURE_RESOURCE_GROUP)"

require_az_login
[[ $(az group exists -n "$rg") == true ]] || die "resource group $rg does not exist in this subscription"

if ! $yes; then
  [[ -t 0 ]] || die "not a terminal: pass --yes to delete $rg without a prompt"
  printf 'This deletes resource group %s and everything in it.\nType its name to confirm: ' "$rg" >&2
  read -r answer
  [[ $answer == "$rg" ]] || die "not confirmed; nothing deleted"
fi

log "deleting resource group $rg"
az group delete -n "$rg" --yes "${wait_flag[@]}"
rm -f deploy/overlays/aks/aks.env
echo "deleted $rg; Key Vault stays soft-deleted for 7 days (purge protection)" >&2
