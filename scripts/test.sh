#!/usr/bin/env bash
# Runs every test of every module in go.work, under the race detector. Installs what
# the tests need first (Azurite from npm, Chromium and shellcheck from Debian).
# Full runs also run staticcheck. With -short: unit tests only, no installs, no
# staticcheck, no race detector (the fast loop).
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
if ! $short; then
  # Pinned; the Go module proxy serves it and the build cache keeps it after the first
  # run. Its checks are in staticcheck.conf.
  echo "== staticcheck"
  go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 "${pkgs[@]}"
fi
race=(-race)
$short && race=()
echo "== go test ${race[*]}"
go test -count=1 -timeout 15m "${race[@]}" "$@" "${pkgs[@]}"
