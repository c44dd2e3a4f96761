#!/usr/bin/env bash
# Who is deploying, and how the images get built. Sourced by deploy.sh after
# common.sh; defines functions only. They read and set deploy.sh's variables
# deployer_id, deployer_type and build.

# is_guid succeeds for an object ID in its usual 8-4-4-4-12 form.
is_guid() { [[ $1 =~ ^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$ ]]; }

# token_object_id prints the oid claim of an ARM access token for the signed-in
# principal. The oid claim is the principal's object ID for users, service principals
# and managed identities alike
# (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference),
# and reading it needs no Microsoft Graph permission, unlike `az ad ... show`, which
# fails for a service principal without Directory read and for `az login --identity`.
token_object_id() {
  local token payload oid
  token=$(az account get-access-token --resource-type arm --query accessToken -o tsv 2>/dev/null) || return 1
  payload=$(cut -d. -f2 <<<"$token" | tr '_-' '/+')
  while ((${#payload} % 4)); do payload+="="; done
  oid=$(printf '%s' "$payload" | openssl base64 -d -A 2>/dev/null | sed -n 's/.*"oid" *: *"\([0-9a-fA-F-]*\)".*/\1/p')
  is_guid "$oid" || return 1
  printf '%s\n' "$oid"
}

# resolve_deployer sets deployer_id and deployer_type, unless --deployer-object-id
# (or DEPLOYER_PRINCIPAL_ID) gave them: first from the access token, then through
# Microsoft Graph, and otherwise stops with the ways to find the ID by hand.
resolve_deployer() {
  local account_type
  if [[ -n $deployer_id ]]; then
    is_guid "$deployer_id" || die "--deployer-object-id '$deployer_id' is not an object ID (a GUID)"
    deployer_type=${deployer_type:-User}
    check_deployer_type
    return
  fi
  account_type=$(az account show --query user.type -o tsv)
  case $account_type in
  user) deployer_type=${deployer_type:-User} ;;
  # Managed identities sign in as servicePrincipal too, and ARM wants that type for them.
  servicePrincipal) deployer_type=${deployer_type:-ServicePrincipal} ;;
  *) die "unknown Azure CLI account type '$account_type'; pass --deployer-object-id <guid> --deployer-type <User|ServicePrincipal>" ;;
  esac
  check_deployer_type
  if deployer_id=$(token_object_id); then
    return
  fi
  if [[ $account_type == user ]]; then
    deployer_id=$(az ad signed-in-user show --query id -o tsv 2>/dev/null || true)
  else
    deployer_id=$(az ad sp show --id "$(az account show --query user.name -o tsv)" --query id -o tsv 2>/dev/null || true)
  fi
  is_guid "$deployer_id" || die "cannot find the object ID of the signed-in $account_type (no oid in its token, and Microsoft Graph refused).
  Pass it: scripts/deploy.sh ... --deployer-object-id <guid> --deployer-type $deployer_type
  A user: az ad signed-in-user show --query id -o tsv
  A service principal: az ad sp show --id <appId> --query id -o tsv
  A managed identity: az identity show -g <group> -n <name> --query principalId -o tsv"
}

check_deployer_type() {
  case $deployer_type in
  User | ServicePrincipal | Group) ;;
  *) die "--deployer-type takes User, ServicePrincipal or Group, not '$deployer_type'" ;;
  esac
}

# build_images builds and pushes both images to the registry: with ACR Tasks
# (`az acr build`, nothing to install) unless --build local, and with a local
# `docker buildx build --push` when ACR Tasks are refused. Free and trial
# subscriptions get TasksOperationsNotAllowed
# (https://github.com/MicrosoftDocs/azure-aks-docs/issues/112,
# https://github.com/Azure-Samples/azure-search-openai-demo/issues/2220).
build_images() {
  local acr=$1 server=$2 tag=$3 svc logf
  if [[ $build != local ]]; then
    logf=$(mktemp)
    for svc in frontend backend; do
      # tee: the build log streams as it runs, and is kept to read the error code.
      # The Dockerfiles declare the platform ARGs without defaults (so BuildKit fills
      # them per --platform); ACR Tasks' builder may not, so they are given here.
      if az acr build -r "$acr" -t "orderflow/$svc:$tag" -f "$svc/Dockerfile" --platform linux/amd64 \
        --build-arg BUILDPLATFORM=linux/amd64 --build-arg TARGETOS=linux --build-arg TARGETARCH=amd64 \
        . -o none 2>&1 | tee "$logf" >&2; then
        echo "built orderflow/$svc:$tag in $acr with ACR Tasks" >&2
        continue
      fi
      if [[ $build == auto ]] && grep -q TasksOperationsNotAllowed "$logf"; then
        echo "ACR Tasks are not allowed on this subscription (TasksOperationsNotAllowed, usual on free and trial subscriptions); building on this machine with docker buildx instead" >&2
        build=local
        break
      fi
      rm -f "$logf"
      die "az acr build failed for $svc (log above). To build on this machine instead: --build local (needs Docker with buildx)"
    done
    rm -f "$logf"
  fi
  [[ $build == local ]] || return 0
  need docker "Install Docker (with buildx), or use a subscription that allows ACR Tasks and run with --build acr."
  docker buildx version >/dev/null 2>&1 || die "docker has no buildx plugin; install it: https://docs.docker.com/build/concepts/overview/#install-buildx"
  az acr login -n "$acr" >&2
  for svc in frontend backend; do
    docker buildx build --platform linux/amd64 -f "$svc/Dockerfile" -t "$server/orderflow/$svc:$tag" --push .
    echo "built orderflow/$svc:$tag locally and pushed it to $server" >&2
  done
}
