#!/usr/bin/env bash
# Runs the whole app on this machine against the local Azure stand-ins (no Azure, no
# Docker): installs Azurite if needed, builds the services, then starts
# `localazure up`, which runs each service with the environment the AKS workload
# identity webhook would give its pod. Ctrl-C stops everything.
# Usage: scripts/run-local.sh [extra `localazure up` flags, e.g. --data-dir .localazure/data]
#        LOCALAZURE_PORT_OFFSET=100 scripts/run-local.sh   (every port + 100, the services' too)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/build.sh
source scripts/lib/build.sh
export GOTOOLCHAIN=local

# Only what running needs (Go is checked by the build; Node.js for Azurite): no test
# tools, no system package manager.
./scripts/install-run-deps.sh

pkgs=(./localazure/cmd/localazure)
execs=()
for svc in frontend backend; do
  if [[ "$(go list -f '{{.Name}}' "./$svc" 2>/dev/null || true)" == main ]]; then
    pkgs+=("./$svc")
    execs+=(--exec "$svc=bin/$svc")
  else
    echo "run-local: note: ./$svc has no main package yet; starting the stack without it"
  fi
done

echo "== building ${pkgs[*]} (the first build takes a minute or two)"
mkdir -p bin
go_build_progress "${pkgs[@]}"

# No URL here: the launcher prints "ready — open <the page's URL>" once the
# frontend listens. Where the services listen is localazure.json's
# LocalAzure.workloads[].listen (HTTP_ADDR, HEALTH_ADDR), moved by
# LOCALAZURE_PORT_OFFSET, which the launcher reads itself; an HTTP_ADDR or
# HEALTH_ADDR set in this environment wins, as given.
echo "== env files for running a service by hand: bin/localazure env <frontend|backend>"
# exec, not `go run`: the launcher must receive Ctrl-C and SIGTERM itself to stop the
# services and the stand-ins in order.
exec bin/localazure up "${execs[@]}" "$@"
