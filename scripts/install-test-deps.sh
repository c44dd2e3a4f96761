#!/usr/bin/env bash
# Installs what the integration, deployment and browser tests need, so that a fresh
# machine runs every test with one command. Idempotent: quick when all is installed.
#   - Azurite (the Blob emulator) and the JavaScript Azure SDKs from npm, pinned by lock files
#   - Chromium (browser tests) and shellcheck (script lint) from Debian's packages
set -euo pipefail
cd "$(dirname "$0")/.."

# npm packages, each pinned by its package-lock.json: Azurite, and the JavaScript
# Azure SDKs the interop tests drive the stand-ins with.
for dir in localazure/azurite localazure/interop; do
  [[ -f $dir/package-lock.json ]] || continue
  # npm ci leaves this file last; its absence means no (complete) install yet.
  [[ -f $dir/node_modules/.package-lock.json ]] && continue
  command -v npm >/dev/null || { echo "npm is required to install $dir (install Node.js 20+)" >&2; exit 1; }
  echo "== installing $dir from npm (about a minute the first time)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
done

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v shellcheck >/dev/null || need+=(shellcheck)
/usr/bin/python3 -c 'import azure.servicebus, azure.identity, uamqp, proton' 2>/dev/null || need+=(python3-azure python3-uamqp python3-qpid-proton)
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null; then
    echo "missing ${need[*]}: install them with your package manager (Debian: apt-get install ${need[*]})" >&2
    exit 1
  fi
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
  echo "== installing ${need[*]} from Debian's packages"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
