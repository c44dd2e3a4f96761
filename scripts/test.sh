#!/usr/bin/env bash
# Runs the tests of the modules in go.work.
#   scripts/test.sh              every module, race detector, go vet and staticcheck;
#                                installs what the tests need first (Azurite and the
#                                interop clients from npm, Chromium, shellcheck and the
#                                Python AMQP clients from Debian)
#   scripts/test.sh -short       the app's fast loop: every module but localazure, unit
#                                tests only, no installs, no race detector, go vet, and
#                                go test's cache for packages that did not change
#   scripts/test.sh -localazure  localazure only, as a full run (installs, race, vet,
#                                staticcheck)
# Extra arguments go to `go test` (e.g. -run TestX).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local

mode=full
args=()
for a in "$@"; do
  case $a in
    -localazure) mode=localazure ;;
    -short) mode=short; args+=(-short) ;;
    *) args+=("$a") ;;
  esac
done

pkgs=()
while read -r dir; do
  case $mode in
    short) [[ $dir == */localazure ]] && continue ;;
    localazure) [[ $dir == */localazure ]] || continue ;;
  esac
  pkgs+=("$dir/...")
done < <(go list -m -f '{{.Dir}}')

if [[ $mode != short ]]; then
  ./scripts/install-test-deps.sh
fi

echo "== gofmt"
dirs=("${pkgs[@]%/...}")
unformatted=$(gofmt -l "${dirs[@]}")
if [[ -n $unformatted ]]; then
  printf 'gofmt would change these files (run make fmt):\n%s\n' "$unformatted" >&2
  exit 1
fi
echo "== go vet"
go vet "${pkgs[@]}"
race=()
if [[ $mode != short ]]; then
  # Pinned; the Go module proxy serves it and the build cache keeps it after the first
  # run. Its checks are in staticcheck.conf.
  echo "== staticcheck"
  go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 "${pkgs[@]}"
  race=(-race)
fi
# Full runs run every test every time; the fast loop lets go test's cache skip the
# packages whose code and inputs did not change since they last passed.
count=(-count=1)
[[ $mode == short ]] && count=()
echo "== go test ${race[*]} ${args[*]}"
go test "${count[@]}" -timeout 15m "${race[@]}" "${args[@]}" "${pkgs[@]}"
