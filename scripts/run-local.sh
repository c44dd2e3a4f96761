#!/usr/bin/env bash
# Runs the whole app on this machine against the local Azure stand-ins (no Azure, no
# Docker): installs Azurite if needed, builds the services, then starts
# `localazure up`, which runs each service with the environment the AKS workload
# identity webhook would give its pod. Ctrl-C stops everything.
# Usage: scripts/run-local.sh [extra `localazure up` flags, e.g. --data-dir .localazure/data]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/addr.sh
source scripts/lib/addr.sh
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

echo "== building ${pkgs[*]}"
mkdir -p bin
go build -o bin/ "${pkgs[@]}"

# The services listen on HTTP_ADDR and HEALTH_ADDR, which the launcher passes on from
# this environment (localazure.json sets neither); the defaults are the services'.
echo "== the app: $(addr_url "${HTTP_ADDR:-:8080}")/ (frontend), backend health: $(addr_url "${HEALTH_ADDR:-:8090}")/healthz"
echo "== env files for running a service by hand: bin/localazure env <frontend|backend>"
# exec, not `go run`: the launcher must receive Ctrl-C and SIGTERM itself to stop the
# services and the stand-ins in order.
exec bin/localazure up "${execs[@]}" "$@"
