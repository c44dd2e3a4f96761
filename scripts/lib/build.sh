#!/usr/bin/env bash
# go_build_progress builds packages into bin/ like `go build -o bin/ PKG...`, but
# shows that a long first build (over a minute cold) is working: `go build -v`
# names each package it compiles (cached ones are skipped), and every 3 seconds
# one line says how many it has compiled of the packages in the build. Compiler
# errors are shown as go prints them. Sourced; functions only. Its status is go
# build's (the caller sets pipefail).
go_build_progress() {
  local total start=$SECONDS
  total=$(go list -deps "$@" 2>/dev/null | wc -l | tr -d ' ')
  go build -v -o bin/ "$@" 2>&1 | {
    local n=0 last=$SECONDS line
    # -v writes bare import paths, one per line; an error is "# pkg" followed by
    # "file:line:col: message" lines, which never look like one.
    while IFS= read -r line; do
      if [[ $line =~ ^[A-Za-z0-9._~/-]+$ ]]; then
        n=$((n + 1))
        if ((SECONDS - last >= 3)); then
          printf '== building: %d of at most %s packages compiled, %ds (%s)\n' "$n" "$total" "$((SECONDS - start))" "$line"
          last=$SECONDS
        fi
      else
        printf '%s\n' "$line"
      fi
    done
    printf '== build done in %ds: %d packages compiled, the rest of the %s from the build cache\n' "$((SECONDS - start))" "$n" "$total"
  }
}
