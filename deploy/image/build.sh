#!/usr/bin/env bash
# build.sh: builds the marketflow container image with podman, without any registry.
#
#   deploy/image/build.sh [--tag TAG] [--servers] [--print-env]
#
# 1. installs podman, buildah, runc and debootstrap when missing (scripts/install-deps.sh
#    --image);
# 2. makes the two base images the Dockerfile names, from Debian's mirror with debootstrap,
#    when the image store lacks them: debian:bookworm (minbase) and debian:bookworm-slim (the
#    same root without documentation, manual pages and locales, and an apt that keeps no
#    downloaded packages nor lists). The root file systems are cached as tar files in the
#    cache directory, so an empty image store is filled again in seconds;
# 3. builds the Dockerfile of the repository root as TAG (default marketflow:dev);
# 4. with --servers, also builds localhost/marketflow-servers:dev (deploy/image/servers.Dockerfile),
#    a stand-in for the NATS, Redis and PostgreSQL images of deploy/compose/compose.yaml
#    made from Debian's packages, for machines that cannot pull those images.
#
# Podman runs with runc and ulimits of 1024 (the container runtime crun and higher limits
# fail on some virtual machines): the settings live in a containers.conf in the cache
# directory, which --print-env prints as `export CONTAINERS_CONF=...` for later podman and
# podman-compose commands (the image tests use it).
#
# Environment: MF_IMAGE_CACHE (cache directory, default build/image), MF_DEBIAN_MIRROR
# (default http://deb.debian.org/debian), MF_DEBIAN_SECURITY (default
# http://deb.debian.org/debian-security). Prints the size of each image built.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${MF_IMAGE_CACHE:-$root/build/image}
mirror=${MF_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${MF_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
suite=bookworm
tag=marketflow:dev
servers=0
print_env=0

while [[ $# -gt 0 ]]; do
    case "$1" in
    --tag) tag=$2; shift 2 ;;
    --servers) servers=1; shift ;;
    --print-env) print_env=1; shift ;;
    -h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '[%(%H:%M:%S)T image] %s\n' -1 "$*" >&2; }

# The podman settings every command here and in the tests uses.
write_containers_conf() {
    mkdir -p "$cache"
    cat >"$cache/containers.conf" <<'EOF'
# Written by deploy/image/build.sh: runc (crun's setrlimit fails on some VMs) and ulimits
# that any machine grants.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
EOF
    export CONTAINERS_CONF="$cache/containers.conf"
}

# Makes the minbase root file system once and caches it as a tar file.
make_rootfs_tar() {
    local tarball=$cache/$suite-minbase.tar dir
    [[ -s $tarball ]] && return 0
    dir=$(mktemp -d "$cache/rootfs.XXXXXX")
    # shellcheck disable=SC2064 # expand now: the directory is fixed
    trap "rm -rf '$dir'" EXIT
    log "debootstrap --variant=minbase $suite from $mirror"
    debootstrap --variant=minbase "$suite" "$dir" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
        tail -n 20 "$cache/debootstrap.log" >&2
        return 1
    }
    # Point apt at the release, its updates and the security archive, as Debian's images do.
    printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
        "$mirror" "$suite" "$mirror" "$suite" "$security" "$suite" >"$dir/etc/apt/sources.list"
    # apt in a container: no downloaded packages kept, no translations, no recommends.
    cat >"$dir/etc/apt/apt.conf.d/90marketflow-image" <<'EOF'
APT::Keep-Downloaded-Packages "false";
APT::Install-Recommends "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
EOF
    # No init system in a container: packages must not try to start their services.
    printf '#!/bin/sh\n# deploy/image/build.sh: never start services in an image build\nexit 101\n' \
        >"$dir/usr/sbin/policy-rc.d"
    chmod 755 "$dir/usr/sbin/policy-rc.d"
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb
    tar -C "$dir" --numeric-owner -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    rm -rf "$dir"
    trap - EXIT
}

# The slim root: the minbase one without documentation, manual pages and translations, and a
# dpkg that leaves them out of every package installed later.
make_slim_tar() {
    local tarball=$cache/$suite-slim.tar dir
    [[ -s $tarball ]] && return 0
    dir=$(mktemp -d "$cache/rootfs.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$dir'" EXIT
    tar -C "$dir" -xf "$cache/$suite-minbase.tar"
    cat >"$dir/etc/dpkg/dpkg.cfg.d/90marketflow-slim" <<'EOF'
# Slim image: no documentation (copyright files stay), manual pages or translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
    find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/* \
        "$dir"/usr/share/groff/* "$dir"/usr/share/lintian/*
    tar -C "$dir" --numeric-owner -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    rm -rf "$dir"
    trap - EXIT
}

import_base() { # TAG TARBALL
    if podman image exists "$1"; then
        return 0
    fi
    log "importing $2 as $1"
    podman import --quiet - "$1" <"$2" >/dev/null
}

# Build options every image build uses: local bases only, the host network (no bridge), the
# ulimits above.
build_image() { # TAG DOCKERFILE CONTEXT
    local start=$SECONDS
    log "building $1 from ${2#"$root"/}"
    podman build --pull=never --network host --ulimit nofile=1024:1024 \
        --ulimit nproc=1024:1024 --layers -f "$2" -t "$1" "$3" >"$cache/build-${1//[:\/]/_}.log" 2>&1 || {
        tail -n 40 "$cache/build-${1//[:\/]/_}.log" >&2
        log "building $1 failed (whole log: $cache/build-${1//[:\/]/_}.log)"
        return 1
    }
    log "$1 built in $((SECONDS - start)) s, $(podman image inspect --format '{{.Size}}' "$1" |
        awk '{printf "%.0f MB", $1 / 1e6}')"
}

main() {
    local start=$SECONDS
    bash "$root/scripts/install-deps.sh" --image
    write_containers_conf
    if ! podman image exists "debian:$suite" || ! podman image exists "debian:$suite-slim"; then
        make_rootfs_tar
        make_slim_tar
        import_base "debian:$suite" "$cache/$suite-minbase.tar"
        import_base "debian:$suite-slim" "$cache/$suite-slim.tar"
    fi
    build_image "$tag" "$root/Dockerfile" "$root"
    if [[ $servers -eq 1 ]]; then
        build_image localhost/marketflow-servers:dev "$root/deploy/image/servers.Dockerfile" \
            "$root/deploy/image"
    fi
    log "done in $((SECONDS - start)) s"
    if [[ $print_env -eq 1 ]]; then
        printf 'export CONTAINERS_CONF=%q\n' "$CONTAINERS_CONF"
    fi
}

main
