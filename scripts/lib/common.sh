#!/usr/bin/env bash
# Helpers shared by deploy.sh and destroy.sh. Source it; it defines functions only.

# log prints a step header on stderr, so stdout stays clean for values.
log() { printf '\n== %s\n' "$*" >&2; }

# die prints an error and exits.
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# need fails with an install hint when a command is missing.
need() {
  local cmd=$1 hint=$2
  command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' is not installed. $hint"
}

# require_az_login checks the Azure CLI has a session and prints the subscription.
require_az_login() {
  need az "Install the Azure CLI: https://learn.microsoft.com/cli/azure/install-azure-cli"
  local sub
  if ! sub=$(az account show --query '[name, id]' -o tsv 2>/dev/null | paste -sd ' ' -); then
    die "the Azure CLI is not logged in. Run 'az login' (and 'az account set -s <subscription>')."
  fi
  [[ -n $sub ]] || die "the Azure CLI is not logged in. Run 'az login'."
  printf 'subscription: %s\n' "$sub" >&2
}

# retry runs a command until it succeeds, up to $1 attempts, $2 seconds apart.
# Role assignments take minutes to propagate; the first calls after one often fail.
retry() {
  local attempts=$1 delay=$2 i
  shift 2
  for ((i = 1; i <= attempts; i++)); do
    if "$@"; then
      return 0
    fi
    ((i < attempts)) && sleep "$delay"
  done
  return 1
}
