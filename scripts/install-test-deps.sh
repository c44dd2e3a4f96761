#!/usr/bin/env bash
# Installs what the integration and browser tests need; idempotent and quiet when done.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -f localazure/azurite/package.json ]]; then
  if [[ ! -x localazure/azurite/node_modules/.bin/azurite-blob ]]; then
    echo "== installing Azurite from npm (localazure/azurite, about a minute the first time)"
    (cd localazure/azurite && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
