#!/usr/bin/env bash
# Installs what the integration, deployment and browser tests need, so that a fresh
# machine runs every test with one command. Idempotent: quick when all is installed.
#   - what `make run` needs (scripts/install-run-deps.sh: Azurite from npm)
#   - the JavaScript Azure SDKs from npm, pinned by their lock file
#   - Chromium (browser tests), shellcheck (script lint) and the Python Service Bus
#     clients from Debian's packages
set -euo pipefail
cd "$(dirname "$0")/.."

# What running needs (Azurite), then the JavaScript Azure SDKs the interop tests
# drive the stand-ins with, pinned by its package-lock.json.
./scripts/install-run-deps.sh
dir=localazure/interop
if [[ ! -f $dir/node_modules/.package-lock.json ]]; then
  echo "== installing $dir from npm (about a minute the first time)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v shellcheck >/dev/null || need+=(shellcheck)
/usr/bin/python3 -c 'import azure.servicebus, azure.identity, uamqp, proton' 2>/dev/null || need+=(python3-azure python3-uamqp python3-qpid-proton)
if ((${#need[@]})); then
  if ! command -v apt-get >/dev/null 2>&1; then
    case $(uname -s) in
    Darwin) hint="brew install --cask chromium; brew install shellcheck (the Python Service Bus clients are Debian packages: those tests need Debian or Ubuntu, e.g. the devcontainer)" ;;
    *) hint="install them with your package manager (Debian names: ${need[*]})" ;;
    esac
    echo "the full test suite needs ${need[*]}: $hint" >&2
    exit 1
  fi
  if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null; then
    echo "missing ${need[*]}: install them with your package manager (Debian: apt-get install ${need[*]})" >&2
    exit 1
  fi
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
  echo "== installing ${need[*]} from Debian's packages"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
