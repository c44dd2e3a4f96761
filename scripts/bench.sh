#!/usr/bin/env bash
# Runs the benchmarks of every module. Each benchmark measures its own baseline in the
# same run (a do-nothing stub, or the client alone) and reports its figure as a ratio,
# because this kind of machine is shared and noisy.
# Usage: scripts/bench.sh [go test -bench regexp] (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
pattern=${1:-.}
pkgs=()
for m in $(go list -m -f '{{.Dir}}'); do pkgs+=("$m/..."); done
go test -run '^$' -bench "$pattern" -benchmem -count=1 -timeout 30m "${pkgs[@]}"
