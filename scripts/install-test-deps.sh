#!/usr/bin/env bash
# Installs what the integration, deployment and browser tests need, so that a fresh
# machine runs every test with one command. Idempotent: quick when all is installed.
#   - Azurite (the Blob emulator) from npm, pinned in localazure/azurite/package.json
#   - Chromium (browser tests) and shellcheck (script lint) from Debian's packages
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -f localazure/azurite/package.json && ! -x localazure/azurite/node_modules/.bin/azurite-blob ]]; then
  command -v npm >/dev/null || { echo "npm is required to install Azurite (install Node.js 20+)" >&2; exit 1; }
  echo "== installing Azurite from npm into localazure/azurite (about a minute the first time)"
  (cd localazure/azurite && npm ci --no-audit --no-fund --loglevel=error)
fi

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v shellcheck >/dev/null || need+=(shellcheck)
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
