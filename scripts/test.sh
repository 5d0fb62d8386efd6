#!/usr/bin/env bash
# test.sh: the whole marketflow test suite, from a fresh Debian 12 machine.
#
# Installs what is missing (scripts/install-deps.sh), configures and builds with -Werror,
# then runs every CTest test: unit tests (cmocka, no network) and integration tests (real
# nats-server, redis-server and PostgreSQL on free loopback ports, in temporary directories),
# then the offline Kubernetes validation when its script exists, then the container image:
# built with podman (deploy/image/build.sh, base images from debootstrap, cached in
# build/image) and run twice at once, every service from the image against host servers
# (tests/integration/image_stack.sh) and the compose file's whole stack
# (tests/integration/image_compose.sh), each checked end to end against the oracle.
#
# Usage: scripts/test.sh [--build-dir DIR] [--sanitize address,undefined|thread]
#                        [--label unit|integration] [--regex RE] [--no-k8s] [--no-image]
#                        [--image-only] [--jobs N]
# --label/--regex select CTest tests only (no Kubernetes validation, no image); --image-only
# runs the image step alone. The image tests need root (podman as root); without root they
# are skipped with a notice. The image is tagged per source tree (marketflow:test-<hash>), so
# trees tested at once on one machine never run each other's image.
# Environment: MF_TEST_JOBS (parallel ctest jobs, default 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build"
sanitize=""
label=""
regex=""
k8s=1
image=1
image_only=0
jobs=${MF_TEST_JOBS:-2}

while [[ $# -gt 0 ]]; do
    case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --sanitize) sanitize=$2; shift 2 ;;
    --label) label=$2; shift 2 ;;
    --regex) regex=$2; shift 2 ;;
    --no-k8s) k8s=0; shift ;;
    --no-image) image=0; shift ;;
    --image-only) image_only=1; shift ;;
    --jobs) jobs=$2; shift 2 ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

step() { printf '\n=== %s\n' "$*"; }

step "dependencies"
bash "$root/scripts/install-deps.sh"

run_suite() {
    step "configure and build ($build_dir${sanitize:+, sanitize=$sanitize})"
    cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMF_WERROR=ON \
        -DMF_BUILD_TESTS=ON -DMF_SANITIZE="$sanitize" >/dev/null
    cmake --build "$build_dir" -j"$(nproc)"

    if [[ -n "$sanitize" ]]; then
        # Make any sanitizer report fatal and visible, also in child processes the tests start.
        export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:halt_on_error=1}
        export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
        export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
        export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}
    fi

    step "ctest"
    args=(--test-dir "$build_dir" --output-on-failure -j"$jobs")
    [[ -n "$label" ]] && args+=(-L "$label")
    [[ -n "$regex" ]] && args+=(-R "$regex")
    ctest "${args[@]}"

    if [[ $k8s -eq 1 && -z "$label$regex" && -x "$root/deploy/k8s/validate.sh" ]]; then
        step "kubernetes manifests (offline validation)"
        bash "$root/deploy/k8s/validate.sh"
    fi
}

# The two image tests at once: both mostly wait for minutes of data, and lib.sh gives each
# its own free ports. Their output is printed when both have ended.
run_image_tests() {
    local t rc=0 dir env
    local -A pids=()
    MF_IMAGE="localhost/marketflow:test-$(printf '%s' "$root" | md5sum | cut -c1-8)"
    env=$(bash "$root/deploy/image/build.sh" --servers --tag "$MF_IMAGE" --print-env) ||
        return 1
    eval "$env"
    export CONTAINERS_CONF MF_IMAGE MF_IMAGE_READY=1
    dir=$(mktemp -d "${TMPDIR:-/tmp}/mf-image-tests.XXXXXX")
    for t in image_stack image_compose; do
        BUILD_DIR=$build_dir SOURCE_DIR=$root bash "$root/tests/integration/$t.sh" \
            >"$dir/$t.out" 2>&1 &
        pids[$t]=$!
    done
    for t in image_stack image_compose; do
        if wait "${pids[$t]}"; then
            grep -E '^(PASS|FAIL)' "$dir/$t.out" || true
        else
            printf -- '----- %s failed:\n' "$t"
            cat "$dir/$t.out"
            rc=1
        fi
    done
    rm -rf "$dir"
    return "$rc"
}

# In an if body, not after || : errexit must stay on inside run_suite.
if [[ $image_only -eq 0 ]]; then
    run_suite
fi
if [[ $image -eq 1 && -z "$label$regex" ]]; then
    step "container image (build, services from the image, compose)"
    if [[ $EUID -ne 0 ]]; then
        echo "NOTICE: the image tests need root (podman as root): skipped"
    else
        run_image_tests
    fi
fi
step "all tests passed"
