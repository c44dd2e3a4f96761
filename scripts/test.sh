#!/usr/bin/env bash
# Runs every test of every module in go.work. Installs what the tests need first
# (Azurite from npm, Chromium from Debian) unless -short is given.
# Usage: scripts/test.sh [-short] [extra go test flags]
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local

short=false
for a in "$@"; do [[ $a == -short ]] && short=true; done

if ! $short; then
  ./scripts/install-test-deps.sh
fi

mods=$(go list -m -f '{{.Dir}}')
pkgs=()
for m in $mods; do pkgs+=("$m/..."); done

echo "== go vet"
go vet "${pkgs[@]}"
echo "== go test"
go test -count=1 -timeout 15m "$@" "${pkgs[@]}"
