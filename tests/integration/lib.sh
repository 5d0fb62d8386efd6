# shellcheck shell=bash
# lib.sh: fixtures for marketflow integration tests. Source it from a test script:
#
#   #!/usr/bin/env bash
#   set -euo pipefail
#   source "$(dirname "$0")/lib.sh"
#   mf_start_nats; mf_start_redis; mf_start_postgres
#   mf_feeds 3; mf_setup_api
#   mf_start_bg generator "$(mf_bin generator)"
#   mf_wait_for 10 curl -fsS "$MF_API_URL/health"
#   mf_pass "prices flow"
#
# Every test gets its own temporary directory (MF_TMP), its own servers on free loopback ports
# and one cleanup trap (EXIT, INT, TERM) that stops every process started here, then every
# server, and removes MF_TMP (kept with MF_KEEP_TMP=1). Tests must not install their own EXIT
# trap: register extra cleanup with `mf_on_exit CMD...`. If the test shell is killed outright
# (SIGKILL, e.g. a CTest timeout), a small detached reaper notices and does the same cleanup.
#
# Two tests can run at once (ctest -j2): temporary dirs are unique, and ports are reserved in a
# directory shared by all tests ($TMPDIR/marketflow-ports) before they are handed out.
#
# Environment: CTest passes BUILD_DIR and SOURCE_DIR. Inherited MARKETFLOW_* variables are
# cleared, so a developer's shell or a running local stack cannot leak into a test; until a
# server is started its MARKETFLOW_* address points to port 1, where nothing listens.
#
# Credentials are on by default, as in every deployment (docs/design.md section 15): the first
# server started generates them with deploy/mf-credentials into $MF_TMP/secrets (MF_SECRETS,
# 0700). nats-server gets one user per role with its permissions
# (deploy/k8s/base/nats-users.conf) plus the test-only roles "feeder" (may publish ticks only)
# and "bench" (bench_e2e's raw measurement on its own subjects e2eraw.>);
# Redis a requirepass; PostgreSQL scram-sha-256 for the superuser postgres and the role
# marketflow (owner of the database marketflow). mf_start_bg gives a marketflow-collector,
# -aggregator, -persister or -api it starts the NATS user of its role; every other command
# (mf-cat, curl, python) runs as the NATS user "operator" (reads everything, publishes only the
# control subject). A test that publishes ticks itself runs its tool as the feeder:
# `mf_as feeder "$MFCAT" pub-ticks <file`; a test that stands in for a service (publishes
# rollups or latest prices) runs it as that role: `mf_as aggregator ...`. psql (PGPASSFILE)
# and redis-cli (REDISCLI_AUTH) find their passwords in the environment.
#
# Knobs: MF_KEEP_TMP=1 (keep MF_TMP), MF_LOG_LEVEL (services' log level, default info),
# MF_STOP_TIMEOUT (s before SIGKILL, default 10), MF_START_TIMEOUT (s for a server to become
# ready, default 30), MF_LOG_TAIL (lines of each log printed by mf_fail, default 40),
# MF_NATS_AUTH=0 before mf_start_nats (a nats-server without authorization, for the tests of
# the NATS helper itself with other prefixes).
#
# Functions (all prefixed mf_): mf_tmpdir mf_free_port mf_start_bg mf_pid mf_running
# mf_stop_bg mf_kill9 mf_wait_exit mf_exit_code mf_wait_for mf_try_for mf_fail mf_pass
# mf_on_exit mf_bin mf_feeds mf_setup_api mf_secrets mf_as mf_nats_creds mf_start_nats
# mf_stop_nats mf_restart_nats
# mf_start_redis mf_stop_redis mf_restart_redis mf_redis_cli mf_start_postgres
# mf_stop_postgres mf_restart_postgres mf_psql.

if [[ -n "${_MF_LIB_LOADED:-}" ]]; then
    return 0
fi
_MF_LIB_LOADED=1 # not exported: a child bash that sources lib.sh gets its own fixture

MF_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE_DIR=${SOURCE_DIR:-$(cd "$MF_LIB_DIR/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build}
export SOURCE_DIR BUILD_DIR
MF_TEST_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
MF_STOP_TIMEOUT=${MF_STOP_TIMEOUT:-10}
MF_START_TIMEOUT=${MF_START_TIMEOUT:-30}
MF_PORT_DIR=${MF_PORT_DIR:-${TMPDIR:-/tmp}/marketflow-ports}

# ---- small helpers -------------------------------------------------------------------------

_mf_log() {
    printf '[%(%H:%M:%S)T %s] %s\n' -1 "$MF_TEST_NAME" "$*" >&2
}

# Milliseconds since the epoch, without a fork.
_mf_now_ms() {
    local us=${EPOCHREALTIME/./}
    printf '%s\n' "$((us / 1000))"
}

# "1.5" -> 1500. Accepts whole or decimal seconds.
_mf_sec_to_ms() {
    local s=$1 int frac
    if [[ ! $s =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
        mf_fail "not a number of seconds: '$s'"
    fi
    int=${s%%.*}
    frac=0
    if [[ $s == *.* ]]; then
        frac=${s#*.}000
        frac=${frac:0:3}
    fi
    printf '%s\n' "$((10#$int * 1000 + 10#$frac))"
}

# Reads /proc/PID/stat into _MF_ST (fields from "state" on: [0] state, [1] ppid, [2] pgrp,
# [19] start time). The command name may hold spaces, so cut after its closing paren.
_mf_stat() {
    local line
    _MF_ST=()
    { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
    line=${line##*) }
    read -r -a _MF_ST <<<"$line"
}

# Prints the kernel start time of PID (to tell it from a later process with the same pid).
_mf_proc_start() {
    _mf_stat "$1" || return 1
    printf '%s\n' "${_MF_ST[19]}"
}

# True when PID runs (not a zombie) and, when START is given, is the process started then.
_mf_alive() {
    local pid=$1 start=${2:-}
    _mf_stat "$pid" || return 1
    [[ ${_MF_ST[0]} != Z ]] || return 1
    [[ -z $start || ${_MF_ST[19]} == "$start" ]]
}

# Sends SIG to PID's process group when PID leads one (it does for everything started with
# setsid here), else to PID alone.
_mf_signal() {
    local pid=$1 sig=$2
    if _mf_stat "$pid" && [[ ${_MF_ST[2]} == "$pid" ]]; then
        kill -s "$sig" -- "-$pid" 2>/dev/null || kill -s "$sig" "$pid" 2>/dev/null || true
    else
        kill -s "$sig" "$pid" 2>/dev/null || true
    fi
}

# Process functions must run in the test's own shell, not in $(...) or ( ): only the shell that
# started a process can reap it and learn its exit code.
_mf_in_test_shell() {
    if [[ $BASHPID != "${_MF_TMP_OWNER:-}" ]]; then
        mf_fail "$1 called in a subshell; call it directly in the test's shell"
    fi
}

_mf_check_name() {
    if [[ ! $1 =~ ^[A-Za-z0-9_.-]+$ ]]; then
        mf_fail "bad process name '$1' (letters, digits, '_', '.', '-')"
    fi
}

# ---- temporary directory, cleanup, reaper --------------------------------------------------

# Creates the test's temporary directory, exports it as MF_TMP and registers it for removal.
# Called when lib.sh is sourced; calling it again keeps the same directory. The directory is
# world-traversable (755) so that the postgres user can reach its data dir inside.
mf_tmpdir() {
    if [[ ${_MF_TMP_OWNER:-} == "$BASHPID" && -d ${MF_TMP:-}/.mf ]]; then
        return 0
    fi
    local base=${TMPDIR:-/tmp}
    MF_TMP=$(mktemp -d "$base/mf-$MF_TEST_NAME.XXXXXX")
    chmod 755 "$MF_TMP"
    mkdir -p "$MF_TMP/.mf/procs" "$MF_TMP/.mf/rc"
    : >"$MF_TMP/.mf/order"
    : >"$MF_TMP/.mf/ports"
    : >"$MF_TMP/.mf/hooks"
    _MF_TMP_OWNER=$BASHPID
    export MF_TMP
    trap '_mf_cleanup' EXIT
    trap '_mf_on_signal INT 130' INT
    trap '_mf_on_signal TERM 143' TERM
    _mf_start_reaper
}

_mf_on_signal() {
    _mf_log "caught SIG$1, cleaning up"
    exit "$2"
}

# Registers a command to run at cleanup, before processes and servers are stopped. Hooks run
# in reverse order of registration. Arguments are kept as given.
mf_on_exit() {
    printf '%q ' "$@" >>"$MF_TMP/.mf/hooks"
    printf '\n' >>"$MF_TMP/.mf/hooks"
}

# The reaper: a detached process (new session, parent = init) that waits for the test shell
# to die. When the shell died without cleaning up (SIGKILL), it kills every recorded process
# group, releases the ports and removes MF_TMP. A normal cleanup stops the reaper at the end.
# shellcheck disable=SC2016 # expanded by the reaper's bash, not here
_MF_REAPER_SCRIPT='
owner=$1 start=$2 dir=$3 portdir=$4
alive() {
    local line f
    { read -r line <"/proc/$owner/stat"; } 2>/dev/null || return 1
    line=${line##*) }
    read -r -a f <<<"$line"
    [[ ${f[19]} == "$start" ]]
}
# Sleep with read -t on a private FIFO: no child process to leave behind.
mkfifo "$dir/.mf/reaper.fifo" && exec 3<>"$dir/.mf/reaper.fifo"
while alive && [[ ! -e $dir/.mf/done ]]; do read -r -t 1 -u 3 _ || true; done
[[ -e $dir/.mf/done || ! -d $dir/.mf ]] && exit 0
for f in "$dir"/.mf/procs/*; do
    [[ -f $f ]] || continue
    read -r pid _ _ pstart <"$f" || continue
    { read -r line <"/proc/$pid/stat"; } 2>/dev/null || continue
    line=${line##*) }
    read -r -a st <<<"$line"
    [[ ${st[19]} == "$pstart" ]] || continue
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
done
while read -r p; do
    [[ -n $p ]] && rm -rf "${portdir:?}/$p"
done <"$dir/.mf/ports"
read -r -t 1 -u 3 _
[[ ${MF_KEEP_TMP:-0} == 1 ]] || rm -rf "$dir"
'

_mf_start_reaper() {
    local owner=$BASHPID start
    start=$(_mf_proc_start "$owner")
    # The subshell exits at once, so the reaper is re-parented to init and survives whatever
    # kills the test's process tree.
    printf '%s' "$_MF_REAPER_SCRIPT" >"$MF_TMP/.mf/reaper.sh"
    (setsid bash "$MF_TMP/.mf/reaper.sh" "$owner" "$start" "$MF_TMP" \
        "$MF_PORT_DIR" </dev/null >/dev/null 2>&1 &
        printf '%s\n' "$!" >"$MF_TMP/.mf/reaper.pid")
}

_mf_cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    # Subshells do not inherit the trap, but be sure only the owner cleans.
    if [[ ${_MF_TMP_OWNER:-} != "$BASHPID" || ! -d ${MF_TMP:-}/.mf ]]; then
        exit "$rc"
    fi
    local -a hooks
    local i
    mapfile -t hooks <"$MF_TMP/.mf/hooks"
    for ((i = ${#hooks[@]} - 1; i >= 0; i--)); do
        (eval "${hooks[i]}") || _mf_log "cleanup hook failed: ${hooks[i]}"
    done
    _mf_stop_all proc
    _mf_stop_all server
    local p
    while read -r p; do
        [[ -n $p ]] && rm -rf "${MF_PORT_DIR:?}/$p"
    done <"$MF_TMP/.mf/ports"
    : >"$MF_TMP/.mf/done"
    local reaper
    reaper=$(cat "$MF_TMP/.mf/reaper.pid" 2>/dev/null)
    if [[ -n $reaper ]]; then
        kill -TERM -- "-$reaper" 2>/dev/null || kill -TERM "$reaper" 2>/dev/null
    fi
    if [[ ${MF_KEEP_TMP:-0} == 1 ]]; then
        _mf_log "kept $MF_TMP"
    else
        rm -rf "$MF_TMP"
    fi
    exit "$rc"
}

# ---- ports ---------------------------------------------------------------------------------

# True when 127.0.0.1:PORT can be bound now (no SO_REUSEADDR: TIME_WAIT counts as taken).
_mf_port_bindable() {
    python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
finally:
    s.close()
PY
}

# Reserves PORT for this test in the shared port directory (mkdir is atomic). A reservation
# whose owner is gone is moved away (rename is atomic too) and the port is skipped this time.
_mf_port_reserve() {
    local port=$1 dir="$MF_PORT_DIR/$1" owner ostart
    if mkdir "$dir" 2>/dev/null; then
        # The owner is the test shell, not this (possibly command-substitution) subshell.
        printf '%s %s\n' "$_MF_TMP_OWNER" "$(_mf_proc_start "$_MF_TMP_OWNER")" >"$dir/owner"
        return 0
    fi
    if read -r owner ostart <"$dir/owner" 2>/dev/null && ! _mf_alive "$owner" "$ostart"; then
        mv "$dir" "$MF_PORT_DIR/.stale.$BASHPID.$port" 2>/dev/null &&
            rm -rf "$MF_PORT_DIR/.stale.$BASHPID.$port"
    fi
    return 1
}

# Prints a free loopback TCP port, never the same twice in a test run nor to two tests running
# at once. Ports come from below the kernel's ephemeral range, so outgoing connections do not
# take them between this call and the server's bind.
mf_free_port() {
    local lo span port try
    command -v python3 >/dev/null 2>&1 || mf_fail "mf_free_port needs python3 (scripts/install-deps.sh)"
    mkdir -p "$MF_PORT_DIR" || mf_fail "cannot create $MF_PORT_DIR"
    chmod 1777 "$MF_PORT_DIR" 2>/dev/null || true
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
    if ((lo > 12000)); then
        span=$((lo - 10000))
        lo=10000
    else
        lo=$((lo > 1024 ? lo : 1024)) # odd kernel config: use the ephemeral range
        span=$((60999 - lo))
    fi
    for ((try = 0; try < 500; try++)); do
        port=$((lo + (RANDOM * 32768 + RANDOM) % span))
        _mf_port_reserve "$port" || continue
        if _mf_port_bindable "$port"; then
            printf '%s\n' "$port" >>"$MF_TMP/.mf/ports"
            printf '%s\n' "$port"
            return 0
        fi
        rm -rf "${MF_PORT_DIR:?}/$port"
    done
    mf_fail "mf_free_port: no free port found"
}

# ---- processes -----------------------------------------------------------------------------

# _mf_spawn NAME STOPSIG KIND cmd...: starts cmd in its own session and process group, stdin
# from /dev/null, stdout+stderr appended to $MF_TMP/NAME.log, and records it.
_mf_spawn() {
    local name=$1 sig=$2 kind=$3
    shift 3
    local -a pre=(setsid)
    # With job control on, bash already gives each job its own group, and setsid would fork.
    [[ $- == *m* ]] && pre=()
    "${pre[@]}" "$@" </dev/null >>"$MF_TMP/$name.log" 2>&1 &
    local pid=$! start
    start=$(_mf_proc_start "$pid") || start=0
    printf '%s %s %s %s\n' "$pid" "$sig" "$kind" "$start" >"$MF_TMP/.mf/procs/$name"
    printf '%s\n' "$name" >>"$MF_TMP/.mf/order"
    rm -f "$MF_TMP/.mf/rc/$name"
}

# Reads the record of NAME into _MF_P (pid sig kind start). Fails when there is none.
_mf_record() {
    _MF_P=()
    [[ -f $MF_TMP/.mf/procs/$1 ]] || return 1
    read -r -a _MF_P <"$MF_TMP/.mf/procs/$1"
}

# Reaps NAME (exit code into $MF_TMP/.mf/rc/NAME when it was our child) and forgets it.
_mf_reap() {
    local name=$1 rc=0
    _mf_record "$name" || return 0
    wait "${_MF_P[0]}" 2>/dev/null || rc=$?
    printf '%s\n' "$rc" >"$MF_TMP/.mf/rc/$name"
    rm -f "$MF_TMP/.mf/procs/$name"
}

# mf_start_bg NAME cmd...: runs an external command in the background (its own process group)
# with stdout+stderr in $MF_TMP/NAME.log. NAME must not be running already. To run a shell
# function, use `bash -c`.
mf_start_bg() {
    local name=$1
    shift
    _mf_in_test_shell mf_start_bg
    _mf_check_name "$name"
    if mf_running "$name"; then
        mf_fail "mf_start_bg: $name is already running (pid $(mf_pid "$name"))"
    fi
    _mf_reap "$name"
    local -a creds=()
    local role
    if role=$(_mf_service_role "$@"); then
        read -r -a creds <<<"$(mf_nats_creds "$role")"
        creds=(env "${creds[@]}")
    fi
    _mf_spawn "$name" TERM proc "${creds[@]}" "$@"
    _mf_log "started $name (pid $(mf_pid "$name")): $*"
}

# Prints the pid of NAME (also after it exited, until it is stopped or reaped).
mf_pid() {
    _mf_record "$1" || {
        _mf_log "mf_pid: no process named $1"
        return 1
    }
    printf '%s\n' "${_MF_P[0]}"
}

# True while NAME runs.
mf_running() {
    _mf_record "$1" || return 1
    _mf_alive "${_MF_P[0]}" "${_MF_P[3]}"
}

# mf_stop_bg NAME [SIGNAL]: sends SIGNAL (default TERM; postgres: INT) to NAME's process group,
# waits up to MF_STOP_TIMEOUT seconds, then sends KILL. Returns 0 once it is gone; the exit code
# is then available from mf_exit_code.
mf_stop_bg() {
    local name=$1 sig=${2:-}
    _mf_in_test_shell mf_stop_bg
    _mf_record "$name" || {
        _mf_log "mf_stop_bg: no process named $name"
        return 0
    }
    local pid=${_MF_P[0]} start=${_MF_P[3]}
    sig=${sig:-${_MF_P[1]}}
    if _mf_alive "$pid" "$start"; then
        _mf_signal "$pid" "$sig"
        if ! _mf_wait_gone "$MF_STOP_TIMEOUT" "$pid" "$start"; then
            _mf_log "$name (pid $pid) still running ${MF_STOP_TIMEOUT}s after SIG$sig: KILL"
            _mf_signal "$pid" KILL
            _mf_wait_gone 5 "$pid" "$start" || _mf_log "$name (pid $pid) survives KILL"
        fi
    fi
    _mf_reap "$name"
}

# mf_kill9 NAME: SIGKILL to NAME's process group, no grace.
mf_kill9() {
    mf_stop_bg "$1" KILL
}

# mf_wait_exit NAME TIMEOUT_S: waits for NAME to exit by itself; then mf_exit_code tells how.
# Fails the test on timeout.
mf_wait_exit() {
    local name=$1
    _mf_in_test_shell mf_wait_exit
    _mf_record "$name" || mf_fail "mf_wait_exit: no process named $name"
    if ! _mf_wait_gone "$2" "${_MF_P[0]}" "${_MF_P[3]}"; then
        mf_fail "$name did not exit within $2 s"
    fi
    _mf_reap "$name"
}

# Prints the exit code of NAME (128+N after signal N) once mf_stop_bg, mf_kill9 or
# mf_wait_exit has reaped it.
mf_exit_code() {
    cat "$MF_TMP/.mf/rc/$1" 2>/dev/null || {
        _mf_log "mf_exit_code: $1 has not been stopped"
        return 1
    }
}

# _mf_wait_gone TIMEOUT_S PID START: polls until PID is gone. Fails on timeout.
_mf_wait_gone() {
    local deadline
    deadline=$(($(_mf_now_ms) + $(_mf_sec_to_ms "$1")))
    while _mf_alive "$2" "$3"; do
        (($(_mf_now_ms) < deadline)) || return 1
        sleep 0.1
    done
}

# Stops every recorded process of KIND (proc or server) at once: their stop signal, a shared
# MF_STOP_TIMEOUT, then KILL. Postgres gets a fast shutdown through its INT signal.
_mf_stop_all() {
    local kind=$1 name deadline i
    local -a names=() order
    mapfile -t order <"$MF_TMP/.mf/order"
    for ((i = ${#order[@]} - 1; i >= 0; i--)); do
        name=${order[i]}
        [[ " ${names[*]} " == *" $name "* ]] && continue
        _mf_record "$name" || continue
        [[ ${_MF_P[2]} == "$kind" ]] || continue
        names+=("$name")
        if _mf_alive "${_MF_P[0]}" "${_MF_P[3]}"; then
            _mf_signal "${_MF_P[0]}" "${_MF_P[1]}"
        fi
    done
    deadline=$(($(_mf_now_ms) + $(_mf_sec_to_ms "$MF_STOP_TIMEOUT")))
    for name in "${names[@]}"; do
        _mf_record "$name" || continue
        while _mf_alive "${_MF_P[0]}" "${_MF_P[3]}" && (($(_mf_now_ms) < deadline)); do
            sleep 0.1
        done
        if _mf_alive "${_MF_P[0]}" "${_MF_P[3]}"; then
            _mf_log "cleanup: $name (pid ${_MF_P[0]}) did not stop: KILL"
            _mf_signal "${_MF_P[0]}" KILL
            _mf_wait_gone 5 "${_MF_P[0]}" "${_MF_P[3]}"
        fi
        _mf_reap "$name"
    done
}

# ---- waiting, failing, passing -------------------------------------------------------------

# mf_try_for TIMEOUT_S cmd...: runs cmd (in this shell, output hidden) every 0.2 s until it
# succeeds; returns 1 on timeout. The last attempt's output is in $MF_TMP/.mf/last_try.
mf_try_for() {
    local deadline
    deadline=$(($(_mf_now_ms) + $(_mf_sec_to_ms "$1")))
    shift
    while :; do
        if "$@" >"$MF_TMP/.mf/last_try" 2>&1; then
            return 0
        fi
        (($(_mf_now_ms) < deadline)) || return 1
        sleep 0.2
    done
}

# mf_wait_for TIMEOUT_S cmd...: like mf_try_for, but a timeout fails the test with the last
# output of cmd.
mf_wait_for() {
    local timeout=$1
    shift
    if ! mf_try_for "$timeout" "$@"; then
        mf_fail "timed out after ${timeout}s waiting for: $* (last output: $(tail -c 500 \
            "$MF_TMP/.mf/last_try" 2>/dev/null))"
    fi
}

# mf_fail MSG: prints MSG, the tail of every log in MF_TMP, and exits 1 (cleanup follows).
mf_fail() {
    local f
    printf 'FAIL: %s: %s\n' "$MF_TEST_NAME" "$*" >&2
    if [[ -d ${MF_TMP:-} ]]; then
        for f in "$MF_TMP"/*.log; do
            [[ -f $f ]] || continue
            printf -- '----- %s (last %s lines) -----\n' "${f##*/}" "${MF_LOG_TAIL:-40}" >&2
            tail -n "${MF_LOG_TAIL:-40}" "$f" >&2
        done
        # The reason again after the logs: excerpts of long outputs keep the tail.
        printf 'FAIL: %s: %s\n' "$MF_TEST_NAME" "$*" >&2
    fi
    exit 1
}

# mf_pass MSG: prints a PASS line (the test ends with exit 0 on its own).
mf_pass() {
    printf 'PASS: %s: %s\n' "$MF_TEST_NAME" "$*"
}

# ---- binaries and service environment ------------------------------------------------------

# mf_bin NAME: prints the path of the built marketflow-NAME.
mf_bin() {
    local exe="marketflow-$1" path
    path="$BUILD_DIR/services/$1/$exe"
    if [[ ! -x $path ]]; then
        path=$(find "$BUILD_DIR" -type f -name "$exe" -perm -u+x -print -quit 2>/dev/null)
    fi
    if [[ -z $path ]]; then
        _mf_log "mf_bin: $exe not found under $BUILD_DIR (build it first)"
        return 1
    fi
    printf '%s\n' "$path"
}

# mf_feeds [N]: N (default 3) free ports for generator feeds exchange1..N. Exports
# MARKETFLOW_GENERATOR_LISTEN and MARKETFLOW_EXCHANGES_TEST (the same list) and MF_FEEDS.
mf_feeds() {
    local n=${1:-3} i port list=""
    for ((i = 1; i <= n; i++)); do
        port=$(mf_free_port)
        list+="${list:+,}exchange$i=127.0.0.1:$port"
    done
    export MF_FEEDS=$list
    export MARKETFLOW_GENERATOR_LISTEN=$list
    export MARKETFLOW_EXCHANGES_TEST=$list
}

# mf_setup_api: a free port for the API and the bearer token of POST /mode. Exports
# MF_API_PORT, MARKETFLOW_API_PORT, MF_API_URL, MF_API_MODE_TOKEN and
# MARKETFLOW_API_MODE_TOKEN.
mf_setup_api() {
    mf_secrets
    MF_API_PORT=$(mf_free_port)
    export MF_API_PORT MARKETFLOW_API_PORT=$MF_API_PORT
    export MF_API_URL="http://127.0.0.1:$MF_API_PORT"
    MF_API_MODE_TOKEN=$(cat "$MF_SECRETS/api-mode-token")
    export MF_API_MODE_TOKEN MARKETFLOW_API_MODE_TOKEN=$MF_API_MODE_TOKEN
}

# Clears inherited MARKETFLOW_* and sets test defaults: every server address "down" (port 1)
# until its mf_start_* runs, feeds too until mf_feeds, metrics off.
_mf_default_env() {
    local v
    for v in "${!MARKETFLOW_@}"; do
        unset "$v"
    done
    export MARKETFLOW_LOG_LEVEL=${MF_LOG_LEVEL:-info}
    export MARKETFLOW_NATS_URL="nats://127.0.0.1:1"
    export MARKETFLOW_REDIS_HOST=127.0.0.1 MARKETFLOW_REDIS_PORT=1
    export MARKETFLOW_POSTGRES_HOST=127.0.0.1 MARKETFLOW_POSTGRES_PORT=1
    export MARKETFLOW_POSTGRES_USER=postgres MARKETFLOW_POSTGRES_DBNAME=marketflow
    local dead="exchange1=127.0.0.1:1,exchange2=127.0.0.1:1,exchange3=127.0.0.1:1"
    export MARKETFLOW_EXCHANGES_LIVE=$dead MARKETFLOW_EXCHANGES_TEST=$dead
    export MARKETFLOW_API_BIND=127.0.0.1
    export MARKETFLOW_METRICS_PORT=0
}

# ---- servers: common start loop ------------------------------------------------------------

# _mf_start_server NAME READY_FN LAUNCH_FN: runs LAUNCH_FN (which spawns NAME), then polls
# READY_FN until it succeeds. If NAME dies first (a port taken between mf_free_port and the
# bind), returns 2 so the caller can retry on new ports; on timeout fails the test.
_mf_start_server() {
    local name=$1 ready=$2 launch=$3 deadline
    "$launch"
    _mf_record "$name" || mf_fail "$name: not recorded"
    deadline=$(($(_mf_now_ms) + $(_mf_sec_to_ms "$MF_START_TIMEOUT")))
    until "$ready" >/dev/null 2>&1; do
        if ! _mf_alive "${_MF_P[0]}" "${_MF_P[3]}"; then
            _mf_reap "$name"
            _mf_log "$name exited during start; log tail:"
            tail -n 5 "$MF_TMP/$name.log" >&2
            return 2
        fi
        if (($(_mf_now_ms) >= deadline)); then
            mf_fail "$name not ready after ${MF_START_TIMEOUT}s"
        fi
        sleep 0.1
    done
    _mf_log "$name ready (pid ${_MF_P[0]})"
}

# _mf_tcp_open PORT: true when 127.0.0.1:PORT accepts a connection.
_mf_tcp_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---- credentials ---------------------------------------------------------------------------

# mf_secrets: generates the test's credentials once (deploy/mf-credentials --test-roles) into
# $MF_TMP/secrets and exports MF_SECRETS, PGPASSFILE and REDISCLI_AUTH. Called by every
# mf_start_* server.
mf_secrets() {
    if [[ -z ${MF_SECRETS:-} ]]; then
        "$SOURCE_DIR/deploy/mf-credentials" "$MF_TMP/secrets" --test-roles ||
            mf_fail "deploy/mf-credentials failed"
        export MF_SECRETS=$MF_TMP/secrets
    fi
    export PGPASSFILE=$MF_SECRETS/pgpass
    REDISCLI_AUTH=$(cat "$MF_SECRETS/redis-password")
    export REDISCLI_AUTH
}

# mf_nats_creds ROLE: prints "MARKETFLOW_NATS_USER=ROLE MARKETFLOW_NATS_PASSWORD=..." for
# `env`, or nothing when the test's nats-server runs without authorization.
mf_nats_creds() {
    [[ ${_MF_NATS_AUTH:-0} == 1 ]] || return 0
    [[ -r $MF_SECRETS/nats-password-$1 ]] || mf_fail "mf_nats_creds: no NATS role '$1'"
    printf 'MARKETFLOW_NATS_USER=%s MARKETFLOW_NATS_PASSWORD=%s\n' "$1" \
        "$(cat "$MF_SECRETS/nats-password-$1")"
}

# mf_as ROLE cmd...: runs cmd (in the foreground) as the NATS user ROLE.
mf_as() {
    local role=$1 creds
    shift
    creds=$(mf_nats_creds "$role")
    # shellcheck disable=SC2086 # two NAME=hex words
    env $creds "$@"
}

# The NATS role of a command line that runs a marketflow service, if any (found by the
# basename of its arguments, so `env X=1 $(mf_bin api)` counts). The generator has none.
_mf_service_role() {
    local a
    [[ ${_MF_NATS_AUTH:-0} == 1 ]] || return 1
    for a in "$@"; do
        case "${a##*/}" in
            marketflow-collector | marketflow-aggregator | marketflow-persister | marketflow-api)
                a=${a##*/}
                printf '%s\n' "${a#marketflow-}"
                return 0
                ;;
        esac
    done
    return 1
}

# ---- NATS ----------------------------------------------------------------------------------

# The server's configuration: address, ports, JetStream store and, unless MF_NATS_AUTH=0, the
# users of every role (the generated nats-users.conf, included from the secrets directory).
_mf_nats_conf() {
    local conf=$MF_SECRETS/nats-server.conf
    umask 077 # runs in $(...): the mask stays there
    {
        printf 'listen: "127.0.0.1:%s"\nhttp: "127.0.0.1:%s"\n' "$MF_NATS_PORT" \
            "$MF_NATS_MONITOR_PORT"
        printf 'jetstream { store_dir: "%s" }\n' "$MF_TMP/nats"
        if [[ $_MF_NATS_AUTH == 1 ]]; then
            printf 'include "nats-users.conf"\n'
        fi
    } >"$conf"
    printf '%s\n' "$conf"
}

_mf_nats_launch() {
    local conf
    mkdir -p "$MF_TMP/nats"
    conf=$(_mf_nats_conf)
    _mf_spawn nats-server TERM server nats-server -c "$conf"
}

_mf_nats_ready() {
    _mf_tcp_open "$MF_NATS_PORT" && curl -fsS -m 2 "$MF_NATS_MONITOR_URL/healthz"
}

_mf_nats_export() {
    export MF_NATS_PORT MF_NATS_MONITOR_PORT
    export MF_NATS_URL="nats://127.0.0.1:$MF_NATS_PORT"
    export MF_NATS_MONITOR_URL="http://127.0.0.1:$MF_NATS_MONITOR_PORT"
    export MARKETFLOW_NATS_URL=$MF_NATS_URL
}

# mf_start_nats: nats-server with JetStream (store $MF_TMP/nats) on a free port, monitoring on
# another, the users of every role (unless MF_NATS_AUTH=0). Exports MF_NATS_PORT, MF_NATS_URL,
# MARKETFLOW_NATS_URL, MF_NATS_MONITOR_PORT, MF_NATS_MONITOR_URL and the operator's
# MARKETFLOW_NATS_USER / MARKETFLOW_NATS_PASSWORD.
mf_start_nats() {
    local attempt rc
    mf_secrets
    _MF_NATS_AUTH=1
    [[ ${MF_NATS_AUTH:-1} == 0 ]] && _MF_NATS_AUTH=0
    # Tools started by the test (mf-cat, scripts) are the operator unless told otherwise.
    if [[ $_MF_NATS_AUTH == 1 ]]; then
        export MARKETFLOW_NATS_USER=operator
        MARKETFLOW_NATS_PASSWORD=$(cat "$MF_SECRETS/nats-password-operator")
        export MARKETFLOW_NATS_PASSWORD
    fi
    for attempt in 1 2 3; do
        MF_NATS_PORT=$(mf_free_port)
        MF_NATS_MONITOR_PORT=$(mf_free_port)
        _mf_nats_export
        rc=0
        _mf_start_server nats-server _mf_nats_ready _mf_nats_launch || rc=$?
        [[ $rc -eq 0 ]] && return 0
        _mf_log "nats-server start attempt $attempt failed; retrying on other ports"
    done
    mf_fail "nats-server did not start"
}

mf_stop_nats() {
    mf_stop_bg nats-server
}

# mf_restart_nats: stop, then start again on the same ports with the same JetStream store.
mf_restart_nats() {
    mf_stop_nats
    _mf_start_server nats-server _mf_nats_ready _mf_nats_launch ||
        mf_fail "nats-server did not restart on port $MF_NATS_PORT"
}

# ---- Redis ---------------------------------------------------------------------------------

# The password is in a configuration file (0600), not on the command line.
_mf_redis_launch() {
    mkdir -p "$MF_TMP/redis"
    (umask 077 && printf 'requirepass %s\n' "$(cat "$MF_SECRETS/redis-password")" \
        >"$MF_SECRETS/redis.conf")
    _mf_spawn redis-server TERM server redis-server "$MF_SECRETS/redis.conf" \
        --port "$MF_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$MF_TMP/redis" --daemonize no
}

_mf_redis_ready() {
    [[ $(redis-cli -h 127.0.0.1 -p "$MF_REDIS_PORT" PING 2>/dev/null) == PONG ]]
}

# mf_redis_cli ARGS...: redis-cli against the test's Redis (REDISCLI_AUTH holds the password).
mf_redis_cli() {
    redis-cli -h 127.0.0.1 -p "$MF_REDIS_PORT" "$@"
}

# mf_start_redis: redis-server without persistence, requiring the generated password, on a
# free port. Exports MF_REDIS_PORT, MARKETFLOW_REDIS_HOST, MARKETFLOW_REDIS_PORT,
# MARKETFLOW_REDIS_PASSWORD and REDISCLI_AUTH.
mf_start_redis() {
    local attempt rc
    mf_secrets
    MARKETFLOW_REDIS_PASSWORD=$REDISCLI_AUTH
    export MARKETFLOW_REDIS_PASSWORD
    for attempt in 1 2 3; do
        MF_REDIS_PORT=$(mf_free_port)
        export MF_REDIS_PORT MARKETFLOW_REDIS_HOST=127.0.0.1 MARKETFLOW_REDIS_PORT=$MF_REDIS_PORT
        rc=0
        _mf_start_server redis-server _mf_redis_ready _mf_redis_launch || rc=$?
        [[ $rc -eq 0 ]] && return 0
        _mf_log "redis-server start attempt $attempt failed; retrying on another port"
    done
    mf_fail "redis-server did not start"
}

mf_stop_redis() {
    mf_stop_bg redis-server
}

# mf_restart_redis: same port; the data is gone (no persistence).
mf_restart_redis() {
    mf_stop_redis
    _mf_start_server redis-server _mf_redis_ready _mf_redis_launch ||
        mf_fail "redis-server did not restart on port $MF_REDIS_PORT"
}

# ---- PostgreSQL ----------------------------------------------------------------------------

# Finds the PostgreSQL server binaries: MF_PG_BINDIR, else the newest /usr/lib/postgresql/*/bin
# (Debian keeps initdb and pg_ctl there, off PATH), else initdb on PATH.
_mf_pg_bindir() {
    local d best="" bestv=-1 v
    if [[ -n ${MF_PG_BINDIR:-} ]]; then
        printf '%s\n' "$MF_PG_BINDIR"
        return 0
    fi
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x $d/initdb ]] || continue
        v=${d#/usr/lib/postgresql/}
        v=${v%%/*}
        v=${v%%.*}
        if [[ $v =~ ^[0-9]+$ ]] && ((v > bestv)); then
            best=$d
            bestv=$v
        fi
    done
    if [[ -z $best ]] && command -v initdb >/dev/null 2>&1; then
        best=$(dirname "$(command -v initdb)")
    fi
    [[ -n $best ]] || return 1
    printf '%s\n' "$best"
}

# The server refuses to run as root: as root, run it as the postgres user. setpriv execs
# without forking, so the recorded pid is the postmaster's.
_mf_pg_as_user() {
    _MF_PG_AS=()
    if [[ $EUID -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || mf_fail "running as root, but there is no postgres user"
        if command -v setpriv >/dev/null 2>&1; then
            _MF_PG_AS=(setpriv --reuid=postgres --regid=postgres --init-groups --)
        else
            _MF_PG_AS=(runuser -u postgres --)
        fi
    fi
}

_mf_pg_launch() {
    _mf_spawn postgres INT server "${_MF_PG_AS[@]}" "$_MF_PG_BIN/postgres" -D "$MF_PG_DATA" \
        -c listen_addresses=127.0.0.1 -c port="$MF_PG_PORT" \
        -c unix_socket_directories="$MF_TMP/pg" -c fsync=off -c full_page_writes=off \
        -c synchronous_commit=off
}

_mf_pg_ready() {
    "$_MF_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$MF_PG_PORT" -U postgres -d postgres
}

# mf_psql ARGS...: psql on the test's database marketflow (-XAtq, ON_ERROR_STOP) as its owner
# marketflow, the services' role (MF_PSQL_USER=postgres for the superuser); the password
# comes from PGPASSFILE.
mf_psql() {
    "$_MF_PSQL" -XAtq -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$MF_PG_PORT" \
        -U "${MF_PSQL_USER:-marketflow}" -d "${MF_PSQL_DB:-marketflow}" "$@"
}

# mf_start_postgres: a throwaway cluster in $MF_TMP/pg/data (scram-sha-256 for every
# connection, no fsync) on a free port, with database marketflow owned by role marketflow.
# Exports MF_PG_PORT, MF_PG_DATA, MF_PG_URL (no password: PGPASSFILE has it) and
# MARKETFLOW_POSTGRES_{HOST,PORT,USER,PASSWORD_FILE,DBNAME}.
mf_start_postgres() {
    mf_secrets
    _MF_PG_BIN=$(_mf_pg_bindir) || mf_fail "PostgreSQL server binaries not found (initdb)"
    _MF_PSQL="$_MF_PG_BIN/psql"
    [[ -x $_MF_PSQL ]] || _MF_PSQL=psql
    _mf_pg_as_user
    MF_PG_DATA="$MF_TMP/pg/data"
    mkdir -p "$MF_TMP/pg"
    [[ $EUID -eq 0 ]] && chown postgres: "$MF_TMP/pg"
    # initdb runs as the postgres user, which cannot read MF_SECRETS: a copy, removed after.
    install -m 600 "$MF_SECRETS/postgres-superuser-password" "$MF_TMP/pg/pwfile"
    [[ $EUID -eq 0 ]] && chown postgres: "$MF_TMP/pg/pwfile"
    if ! "${_MF_PG_AS[@]}" "$_MF_PG_BIN/initdb" -D "$MF_PG_DATA" --auth=scram-sha-256 \
        -U postgres --pwfile="$MF_TMP/pg/pwfile" --no-sync -E UTF8 --locale=C \
        >"$MF_TMP/initdb.log" 2>&1; then
        mf_fail "initdb failed (is $MF_TMP reachable by the postgres user?)"
    fi
    rm -f "$MF_TMP/pg/pwfile"
    local attempt rc
    for attempt in 1 2 3; do
        MF_PG_PORT=$(mf_free_port)
        rc=0
        _mf_start_server postgres _mf_pg_ready _mf_pg_launch || rc=$?
        [[ $rc -eq 0 ]] && break
        _mf_log "postgres start attempt $attempt failed; retrying on another port"
    done
    [[ $rc -eq 0 ]] || mf_fail "postgres did not start"
    export MF_PG_PORT MF_PG_DATA
    export MF_PG_URL="postgresql://marketflow@127.0.0.1:$MF_PG_PORT/marketflow"
    export MARKETFLOW_POSTGRES_HOST=127.0.0.1 MARKETFLOW_POSTGRES_PORT=$MF_PG_PORT
    export MARKETFLOW_POSTGRES_USER=marketflow MARKETFLOW_POSTGRES_DBNAME=marketflow
    export MARKETFLOW_POSTGRES_PASSWORD_FILE=$MF_SECRETS/postgres-password
    # The password goes through stdin, not argv.
    printf "CREATE ROLE marketflow LOGIN PASSWORD '%s';\nCREATE DATABASE marketflow OWNER marketflow;\n" \
        "$(cat "$MF_SECRETS/postgres-password")" | MF_PSQL_USER=postgres MF_PSQL_DB=postgres mf_psql -f - ||
        mf_fail "could not create role and database marketflow"
}

# mf_stop_postgres: pg_ctl stop -m fast (then the usual signal/KILL fallback).
mf_stop_postgres() {
    if mf_running postgres; then
        "${_MF_PG_AS[@]}" "$_MF_PG_BIN/pg_ctl" stop -D "$MF_PG_DATA" -m fast -w -t 30 \
            >>"$MF_TMP/postgres.log" 2>&1 || _mf_log "pg_ctl stop failed; signalling"
    fi
    mf_stop_bg postgres
}

# mf_restart_postgres: same port, same data.
mf_restart_postgres() {
    mf_stop_postgres
    _mf_start_server postgres _mf_pg_ready _mf_pg_launch ||
        mf_fail "postgres did not restart on port $MF_PG_PORT"
}

# ---- on source -----------------------------------------------------------------------------

_mf_default_env
mf_tmpdir
