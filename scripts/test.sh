#!/usr/bin/env bash
# Runs every test of every module in go.work, under the race detector. Installs what
# the tests need first (Azurite from npm, Chromium and shellcheck from Debian).
# With -short: unit tests only, no installs, no race detector (the fast loop).
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
race=(-race)
$short && race=()
echo "== go test ${race[*]}"
go test -count=1 -timeout 15m "${race[@]}" "$@" "${pkgs[@]}"
