#!/usr/bin/env bash
# install-deps.sh: installs every Debian package marketflow needs to build, test and run.
#
# Idempotent: when `dpkg-query` says every package is installed it does nothing (no network,
# no root needed). Otherwise it runs `apt-get update` once and installs the missing ones, as
# root or through sudo.
#
# The Debian packages of redis-server and postgresql start system services on the default
# ports (6379, 5432) when the init system lets them. marketflow runs its own servers (the
# local stack in deploy/local, the integration tests on free ports), so while installing we
# ask invoke-rc.d not to start anything (a temporary policy-rc.d), and afterwards we stop the
# system services of the packages we just installed if they run anyway.
#
# Usage: scripts/install-deps.sh [--check] [--image]
#   --check   only report missing packages; exit 1 when some are missing.
#   --image   also the container tools that build and run the image (deploy/image/build.sh,
#             the image tests): podman with runc, debootstrap for the base images,
#             podman-compose.
set -euo pipefail

PACKAGES=(
    # toolchain
    build-essential cmake pkg-config clang clang-format
    # libraries
    libnats-dev libulfius-dev libmicrohttpd-dev libjansson-dev libhiredis-dev libpq-dev
    libinih-dev libcmocka-dev
    # servers
    nats-server redis-server postgresql postgresql-client
    # tools used by scripts, tests and benchmarks
    python3 curl jq wrk procps psmisc iproute2 netcat-openbsd
)
IMAGE_PACKAGES=(podman runc debootstrap podman-compose)

log() {
    printf 'install-deps: %s\n' "$*" >&2
}

# Prints the packages of PACKAGES that are not fully installed. `dpkg-query -W` alone exits 0
# for a package that dpkg merely knows about (removed, config-files), so read the status.
missing_packages() {
    local pkg status
    for pkg in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
        if [[ "$status" != "installed" ]]; then
            printf '%s\n' "$pkg"
        fi
    done
}

# Runs a command as root: directly, or through sudo when we are not root.
as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -- "$@"
    else
        log "need root to run: $* (run as root or install sudo)"
        return 1
    fi
}

# True when a SysV/systemd service is running. Quiet; never fails the script.
service_running() {
    local svc=$1
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
        systemctl is-active --quiet "$svc" 2>/dev/null
    elif [[ -x /etc/init.d/$svc ]]; then
        as_root /etc/init.d/"$svc" status >/dev/null 2>&1
    else
        return 1
    fi
}

# Stops a system service if it runs, and keeps systemd from starting it at boot. The project
# runs its own instances; a packaged one would hold the default port.
stop_system_service() {
    local svc=$1
    if ! service_running "$svc"; then
        return 0
    fi
    log "stopping the system service $svc (marketflow runs its own servers)"
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
        as_root systemctl stop "$svc" || true
        as_root systemctl disable --quiet "$svc" 2>/dev/null || true
    else
        as_root /etc/init.d/"$svc" stop >/dev/null 2>&1 || true
    fi
}

# Stops what the packages just installed may have started: the redis-server service and every
# PostgreSQL cluster that Debian's postgresql-common created (main on 5432).
stop_packaged_servers() {
    local pkg
    local -a installed=("$@")
    for pkg in "${installed[@]}"; do
        case "$pkg" in
            redis-server) stop_system_service redis-server ;;
            postgresql)
                stop_system_service postgresql
                # Without an init system the cluster may still run: stop it directly.
                if command -v pg_lsclusters >/dev/null 2>&1; then
                    local ver name rest
                    while read -r ver name _ rest; do
                        [[ "$rest" == online* ]] || continue
                        log "stopping PostgreSQL cluster $ver/$name"
                        as_root pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
                    done < <(pg_lsclusters --no-header 2>/dev/null || true)
                fi
                ;;
        esac
    done
}

main() {
    local check_only=0 arg
    for arg in "$@"; do
        case "$arg" in
            --check) check_only=1 ;;
            --image) PACKAGES+=("${IMAGE_PACKAGES[@]}") ;;
            -h | --help)
                sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
                return 0
                ;;
            *)
                log "unknown argument: $arg (accepted: --check, --image, --help)"
                return 2
                ;;
        esac
    done

    local -a missing
    mapfile -t missing < <(missing_packages)
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "all ${#PACKAGES[@]} packages are installed"
        return 0
    fi
    log "missing: ${missing[*]}"
    if [[ $check_only -eq 1 ]]; then
        return 1
    fi

    # Keep invoke-rc.d from starting the packaged servers during the install, unless the
    # machine already has a policy (Docker images do: exit 101).
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\n# temporary, from marketflow install-deps.sh\nexit 101\n' |
            as_root tee "$policy" >/dev/null
        as_root chmod 755 "$policy"
        created_policy=1
        # shellcheck disable=SC2064 # expand now: the path is fixed
        trap "as_root rm -f '$policy'" EXIT
    fi

    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -q
    as_root apt-get install -y -q --no-install-recommends "${missing[@]}"

    if [[ $created_policy -eq 1 ]]; then
        as_root rm -f "$policy"
        trap - EXIT
    fi
    stop_packaged_servers "${missing[@]}"

    mapfile -t missing < <(missing_packages)
    if [[ ${#missing[@]} -gt 0 ]]; then
        log "still missing after apt-get install: ${missing[*]}"
        return 1
    fi
    log "installed; all ${#PACKAGES[@]} packages present"
}

main "$@"
