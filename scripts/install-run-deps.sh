#!/usr/bin/env bash
# Installs what `make run` needs beyond Go: Azurite (the local Blob Storage) from npm,
# pinned by localazure/azurite/package-lock.json. Nothing else, and never a system
# package manager: `make run` works on macOS, Linux and WSL alike with Go and Node.js.
# Idempotent: quick when Azurite is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=localazure/azurite
# npm ci leaves this file last; its absence means no (complete) install yet.
[[ -f $dir/node_modules/.package-lock.json ]] && exit 0
if ! command -v npm >/dev/null 2>&1; then
  case $(uname -s) in
  Darwin) hint="brew install node@20 (or https://nodejs.org/)" ;;
  Linux) hint="your package manager (Debian/Ubuntu: sudo apt-get install nodejs npm) or https://nodejs.org/" ;;
  *) hint="https://nodejs.org/" ;;
  esac
  echo "npm is not installed. Azurite (the local Blob Storage) needs Node.js 20+ and npm: $hint" >&2
  echo "Or run without Blob Storage: go run ./localazure/cmd/localazure up --blob=false" >&2
  exit 1
fi
echo "== installing $dir from npm (about a minute the first time)"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
