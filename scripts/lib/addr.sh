#!/usr/bin/env bash
# addr_url turns a Go listen address (":8080", "0.0.0.0:9000", "127.0.0.1:9000",
# "[::1]:9000") into the URL a browser on this machine opens. Sourced; functions only.
addr_url() {
  local addr=$1 host port
  port=${addr##*:}
  host=${addr%:*}
  case $host in "" | 0.0.0.0 | "[::]") host=localhost ;; esac
  printf 'http://%s:%s' "$host" "$port"
}
