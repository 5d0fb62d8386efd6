# shellcheck shell=bash
# image_lib.sh: marketflow services from the container image, for the image tests (source
# after lib.sh and api_lib.sh). The image is built (or found up to date in the layer cache) by
# deploy/image/build.sh, whose containers.conf (runc, ulimits) every podman call here uses.
#
#   img_prepare [BUILD_ARGS...]   builds (unless MF_IMAGE_READY=1: a caller built the images
#                                 and exported CONTAINERS_CONF), removes containers left by
#                                 killed image tests, registers the cleanup of this test's
#                                 containers
#   img_run NAME [PODMAN_OPTS...] -- CMD...
#                                 one service container in the background as mf process
#                                 NAME (logs in $MF_TMP/NAME.log, SIGTERM reaches the service)
#                                 with the Kubernetes security context: user 10001:10001,
#                                 read-only root file system with a tmpfs on /tmp, no
#                                 capabilities, no-new-privileges, the host network, the
#                                 test's MARKETFLOW_* settings and the credentials of CMD's
#                                 role (img_secrets); its metrics port is free and written to
#                                 $MF_TMP/NAME.metrics_port
#   img_secrets CMD...            the secrets a service command line gets, as its Kubernetes
#                                 manifest gives them (docs/deploy.md, "Secrets"): nats (the
#                                 NATS user of its role), redis, postgres, token
#   img_check_hardened CONTAINER  the container's process runs as 10001 and cannot write /
#   img_genlog_dir                $MF_TMP/gen, writable by the image's user: mounted for the
#                                 generator's line log (sent.lines)
#   img_check_prices              after 75 s of data, every price route (api_lib.sh) for 1s,
#                                 5s (Redis) and 1m, 3m (PostgreSQL + Redis) equals the
#                                 oracle over that line log
#
# Containers carry the label io.marketflow.test.owner=PID:START of the test shell. If the
# shell is killed outright (SIGKILL, a CTest timeout), lib.sh's reaper kills the podman
# clients but the containers would live on: a watchdog started by img_prepare then removes
# every container with this test's label and every volume named $IMG_PREFIX_*, and the next
# img_prepare removes what even that missed (a killed watchdog).
MF_IMAGE=${MF_IMAGE:-marketflow:dev}
IMG_LABEL=io.marketflow.test.owner
_IMG_SHELL=$BASHPID # read here: inside $(...) BASHPID is the subshell's
IMG_OWNER="$_IMG_SHELL:$(_mf_proc_start "$_IMG_SHELL")"
IMG_PREFIX="mf-$MF_TEST_NAME-$_IMG_SHELL"
: >"$MF_TMP/.mf/containers"

# Removes this test's containers (a cleanup hook: runs before lib.sh stops the podman
# clients, so a failing test leaves nothing running).
img_cleanup() {
    local -a ctrs
    mapfile -t ctrs <"$MF_TMP/.mf/containers"
    [[ ${#ctrs[@]} -eq 0 ]] || podman rm -f -t 3 "${ctrs[@]}" >/dev/null 2>&1 || true
    if [[ -s $MF_TMP/.mf/img-watchdog.pid ]]; then
        kill "$(cat "$MF_TMP/.mf/img-watchdog.pid")" 2>/dev/null || true
    fi
}

# The watchdog: a detached bash (new session) that polls the test shell once a second (pid and
# start time, from ps) and, once it is gone without img_cleanup having stopped the watchdog,
# removes what it left.
# shellcheck disable=SC2016 # expanded by the watchdog's bash
_IMG_WATCHDOG='
pid=$1 started=$2 label=$3 prefix=$4
while [[ $(ps -o lstart= -p "$pid" 2>/dev/null) == "$started" ]]; do sleep 1; done
mapfile -t ctrs < <(podman ps -aq --filter "label=$label")
[[ ${#ctrs[@]} -eq 0 ]] || podman rm -f -t 0 "${ctrs[@]}"
mapfile -t vols < <(podman volume ls --format "{{.Name}}" | grep -F -- "${prefix}_")
[[ ${#vols[@]} -eq 0 ]] || podman volume rm -f "${vols[@]}"
'

_img_start_watchdog() {
    local started
    started=$(ps -o lstart= -p "$_IMG_SHELL") || mf_fail "ps -o lstart= -p $_IMG_SHELL failed"
    (setsid bash -c "$_IMG_WATCHDOG" img-watchdog "$_IMG_SHELL" "$started" \
        "$IMG_LABEL=$IMG_OWNER" "$IMG_PREFIX" </dev/null >/dev/null 2>&1 &
        printf '%s\n' "$!" >"$MF_TMP/.mf/img-watchdog.pid")
}

# Removes containers whose owning test shell is gone.
_img_remove_orphans() {
    local name owner pid start
    while read -r name owner; do
        pid=${owner%%:*}
        start=${owner#*:}
        if ! _mf_alive "$pid" "$start"; then
            _mf_log "removing $name, left by a killed test"
            podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
        fi
    done < <(podman ps -a --filter "label=$IMG_LABEL" \
        --format "{{.Names}} {{index .Labels \"$IMG_LABEL\"}}" 2>/dev/null)
}

img_prepare() {
    local env
    if [[ ${MF_IMAGE_READY:-0} != 1 ]]; then
        env=$(bash "$SOURCE_DIR/deploy/image/build.sh" --print-env "$@") ||
            mf_fail "deploy/image/build.sh failed"
        eval "$env"
    fi
    [[ -f ${CONTAINERS_CONF:-} ]] || mf_fail "no containers.conf (CONTAINERS_CONF) from build.sh"
    export CONTAINERS_CONF
    _img_remove_orphans
    _img_start_watchdog
    mf_on_exit img_cleanup
}

# Credentials, never in the image: the NATS user and password, the Redis password and the
# mode token in a 0600 env file of the test's secrets directory (--env-file: no secret on a
# command line); the PostgreSQL password as a file readable by the image's user only, mounted
# read-only (postgres.password_file).
img_secrets() {
    case "${1##*/} ${2:-} ${3:-}" in
        "marketflow-collector "* | "marketflow-aggregator "*) echo nats ;;
        "marketflow-persister --sink postgres") echo nats postgres ;;
        "marketflow-persister --sink redis") echo nats redis ;;
        "marketflow-api "*) echo nats redis postgres token ;;
        *) echo ;;
    esac
}

IMG_PG_PASSWORD_FILE=/run/secrets/postgres-password

# _img_secret_opts NAME CMD...: fills _IMG_SOPTS with the podman options that give container
# NAME the secrets of CMD.
_img_secret_opts() {
    local name=$1 kind role envf=$MF_SECRETS/$1.container.env pgdir=$MF_TMP/img-secrets/$1
    shift
    _IMG_SOPTS=()
    (umask 077 && : >"$envf")
    for kind in $(img_secrets "$@"); do
        case $kind in
            nats)
                role=$(_mf_service_role "$@") || mf_fail "img_run $name: no NATS role for $*"
                mf_nats_creds "$role" | tr ' ' '\n' >>"$envf"
                ;;
            redis) printf 'MARKETFLOW_REDIS_PASSWORD=%s\n' "$MARKETFLOW_REDIS_PASSWORD" >>"$envf" ;;
            token) printf 'MARKETFLOW_API_MODE_TOKEN=%s\n' "$MF_API_MODE_TOKEN" >>"$envf" ;;
            postgres)
                mkdir -p "$pgdir"
                install -m 400 -o 10001 -g 10001 "$MF_SECRETS/postgres-password" "$pgdir/"
                chown 10001:10001 "$pgdir" && chmod 500 "$pgdir"
                printf 'MARKETFLOW_POSTGRES_PASSWORD_FILE=%s\n' "$IMG_PG_PASSWORD_FILE" >>"$envf"
                _IMG_SOPTS+=(-v "$pgdir/postgres-password:$IMG_PG_PASSWORD_FILE:ro")
                ;;
        esac
    done
    _IMG_SOPTS+=(--env-file "$envf")
}

# Every MARKETFLOW_* setting of the test but the credentials (which img_secrets hands out)
# and those img_run sets per container.
_img_settings() {
    local v
    _IMG_EOPTS=()
    for v in "${!MARKETFLOW_@}"; do
        case $v in
            *_PASSWORD | *_PASSWORD_FILE | *_TOKEN | MARKETFLOW_NATS_USER) ;;
            MARKETFLOW_METRICS_PORT | MARKETFLOW_METRICS_BIND | MARKETFLOW_LOG_INSTANCE) ;;
            *) _IMG_EOPTS+=(--env "$v") ;;
        esac
    done
}

img_run() {
    local name=$1 port ctr="$IMG_PREFIX-$1"
    local -a opts=()
    shift
    while [[ $# -gt 0 && $1 != -- ]]; do
        opts+=("$1")
        shift
    done
    [[ ${1:-} == -- ]] || mf_fail "img_run $name: no -- before the command"
    shift
    port=$(mf_free_port)
    printf '%s\n' "$port" >"$MF_TMP/$name.metrics_port"
    printf '%s\n' "$ctr" >>"$MF_TMP/.mf/containers"
    _img_secret_opts "$name" "$@"
    _img_settings
    mf_start_bg "$name" podman run --rm --name "$ctr" --label "$IMG_LABEL=$IMG_OWNER" \
        --network host --user 10001:10001 --read-only --read-only-tmpfs=false \
        --tmpfs /tmp:rw,mode=1777,size=64m --cap-drop all --security-opt no-new-privileges \
        "${_IMG_EOPTS[@]}" --env MARKETFLOW_METRICS_PORT="$port" \
        --env MARKETFLOW_METRICS_BIND=127.0.0.1 --env MARKETFLOW_LOG_INSTANCE="$name" \
        "${_IMG_SOPTS[@]}" "${opts[@]}" "$MF_IMAGE" "$@"
}

# img_check_secrets CONTAINER CMD...: the container's environment holds the credentials of
# CMD's role and no other (the NATS user is the role's), and none of them is in the image.
img_check_secrets() {
    local ctr=$1 want="" got kind role
    shift
    for kind in $(img_secrets "$@"); do
        case $kind in
            nats) want+=" MARKETFLOW_NATS_PASSWORD MARKETFLOW_NATS_USER" ;;
            redis) want+=" MARKETFLOW_REDIS_PASSWORD" ;;
            token) want+=" MARKETFLOW_API_MODE_TOKEN" ;;
            postgres) want+=" MARKETFLOW_POSTGRES_PASSWORD_FILE" ;;
        esac
    done
    want=$(tr ' ' '\n' <<<"$want" | sed '/^$/d' | sort | tr '\n' ' ')
    got=$(podman exec "$ctr" env | sed -n 's/^\(MARKETFLOW_[A-Z_]*\(PASSWORD\|PASSWORD_FILE\|TOKEN\|NATS_USER\)\)=.*/\1/p' |
        sort | tr '\n' ' ')
    [[ $got == "$want" ]] || mf_fail "$ctr: credentials in its environment: '$got', want '$want'"
    if role=$(_mf_service_role "$@"); then
        [[ $(podman exec "$ctr" printenv MARKETFLOW_NATS_USER) == "$role" ]] ||
            mf_fail "$ctr: NATS user is not $role"
    fi
    if [[ $want == *POSTGRES_PASSWORD_FILE* ]]; then
        [[ $(podman exec "$ctr" cat "$IMG_PG_PASSWORD_FILE") == "$(cat "$MF_SECRETS/postgres-password")" ]] ||
            mf_fail "$ctr: $IMG_PG_PASSWORD_FILE is not the PostgreSQL password"
    fi
    if podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$MF_IMAGE" |
        grep -qE 'PASSWORD|TOKEN'; then
        mf_fail "$MF_IMAGE holds a credential in its environment"
    fi
}

# img_healthz NAME: GET /healthz on the metrics port of img_run's NAME answers 200.
img_healthz() {
    curl -fsS -m 2 "http://127.0.0.1:$(cat "$MF_TMP/$1.metrics_port")/healthz" >/dev/null
}

img_check_hardened() {
    local out
    out=$(podman exec "$1" bash -c 'id -u; id -g; if touch /probe 2>/dev/null; then echo writable; fi') ||
        mf_fail "$1: podman exec failed: $out"
    [[ $out == $'10001\n10001' ]] || mf_fail "$1: uid/gid or root file system: $out"
}

img_genlog_dir() {
    mkdir -p "$MF_TMP/gen"
    chown 10001:10001 "$MF_TMP/gen"
}

# The line log is flushed every 200 ms: wait for that, then take the ticks it holds.
_img_ticks() {
    sleep 0.5
    $API_ORACLE ticks "$MF_TMP/gen/sent.lines" >"$MF_TMP/ticks.jsonl"
}

img_check_prices() {
    local period
    sleep 75 # more than the cache retention, and at least one whole minute in PostgreSQL
    for period in 1s 5s; do
        mf_api_check_all "$period" redis "$MF_TMP/ticks.jsonl" _img_ticks
    done
    for period in 1m 3m; do
        mf_api_check_all "$period" 'redis\+postgres|postgres' "$MF_TMP/ticks.jsonl" _img_ticks
    done
    mf_pass "REST answers equal the oracle over the generator's line log (1s 5s 1m 3m)"
}
