#!/usr/bin/env bash
# fixture_selftest.sh: tests lib.sh itself against the real servers.
#
# The parent runs each scenario in a child bash (this script with --scenario MODE REPORT) and,
# once the child is gone, checks that none of the processes it started survives, that its
# temporary directory is removed and that its ports are released:
#   full  every fixture: servers up, checked, restarted keeping their data; background
#         processes stopped by TERM, by KILL after the timeout, by mf_kill9; mf_wait_exit;
#         mf_free_port uniqueness; mf_wait_for / mf_try_for. Exits 0.
#   fail  servers and a process running, then mf_fail: exit 1, logs printed, all cleaned.
#   term  servers running, the parent sends SIGTERM: the trap cleans up.
#   kill  servers running, the parent sends SIGKILL (no trap runs): the reaper cleans up.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)

# nats_req PORT SUBJECT PAYLOAD: one NATS request over the plain protocol; prints the reply.
# Enough to drive the JetStream API ($JS.API.*) without a NATS client tool.
nats_req() {
    python3 - "$@" <<'PY'
import json, os, socket, sys
port, subject, payload = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
s = socket.create_connection(("127.0.0.1", port), timeout=5)
f = s.makefile("rb")
f.readline()  # INFO
inbox = "_INBOX.selftest"
# As the NATS user the fixture gives tools (the operator), when there is one.
auth = {"verbose": False, "pedantic": False}
if os.environ.get("MARKETFLOW_NATS_USER"):
    auth.update(user=os.environ["MARKETFLOW_NATS_USER"],
                **{"pass": os.environ.get("MARKETFLOW_NATS_PASSWORD", "")})
s.sendall(b"CONNECT " + json.dumps(auth).encode() + b"\r\n"
          + f"SUB {inbox} 1\r\nPUB {subject} {inbox} {len(payload)}\r\n".encode()
          + payload + b"\r\n")
while True:
    line = f.readline()
    if not line:
        sys.exit("connection closed")
    if line.startswith(b"PING"):
        s.sendall(b"PONG\r\n")
    elif line.startswith(b"-ERR"):
        sys.exit(line.decode().strip())
    elif line.startswith(b"MSG"):
        n = int(line.split()[-1])
        print(f.read(n + 2)[:n].decode())
        break
PY
}

# Writes "key value" lines the parent reads back.
report() {
    printf '%s\n' "$*" >>"$REPORT"
}

# Servers plus one background process, recorded in the report.
start_all() {
    mf_start_nats
    mf_start_redis
    mf_start_postgres
    mf_start_bg sleeper sleep 1000
    report tmp "$MF_TMP"
    report_state
}

# Records every process the fixture tracks now, and every port it reserved.
report_state() {
    local f pid
    for f in "$MF_TMP"/.mf/procs/*; do
        [[ -f $f ]] || continue
        read -r pid _ <"$f"
        report pid "$pid"
    done
    report ports "$(tr '\n' ' ' <"$MF_TMP/.mf/ports")"
}

check_servers() {
    # NATS: TCP, then JetStream enabled in /varz.
    (exec 3<>"/dev/tcp/127.0.0.1/$MF_NATS_PORT") || mf_fail "nats: no TCP connect"
    local js
    js=$(curl -fsS "$MF_NATS_MONITOR_URL/varz" | jq -r '.jetstream.config.store_dir // empty')
    [[ $js == "$MF_TMP/nats"* ]] || mf_fail "nats: JetStream not on in /varz (store_dir '$js')"
    [[ $MARKETFLOW_NATS_URL == "nats://127.0.0.1:$MF_NATS_PORT" ]] || mf_fail "nats: env"
    # Redis.
    [[ $(mf_redis_cli PING) == PONG ]] || mf_fail "redis: no PONG"
    [[ $(mf_redis_cli SET selftest:key hello) == OK ]] || mf_fail "redis: SET"
    [[ $(mf_redis_cli GET selftest:key) == hello ]] || mf_fail "redis: GET"
    [[ $MARKETFLOW_REDIS_PORT == "$MF_REDIS_PORT" ]] || mf_fail "redis: env"
    # PostgreSQL: the marketflow database, reachable as the services will reach it.
    [[ $(mf_psql -c 'select 1') == 1 ]] || mf_fail "postgres: select 1"
    [[ $(mf_psql -c 'select current_database()') == marketflow ]] || mf_fail "postgres: db"
    [[ $(psql -XAtq -h "$MARKETFLOW_POSTGRES_HOST" -p "$MARKETFLOW_POSTGRES_PORT" \
        -U "$MARKETFLOW_POSTGRES_USER" -d "$MARKETFLOW_POSTGRES_DBNAME" -c 'select 2') == 2 ]] ||
        mf_fail "postgres: env"
}

check_restarts() {
    local out
    # NATS: a file-backed stream and its messages survive a restart. The control stream and
    # subject, which the fixture's default NATS user (operator) may create and publish.
    # shellcheck disable=SC2016 # the $JS.API subjects are literal
    out=$(nats_req "$MF_NATS_PORT" '$JS.API.STREAM.CREATE.MARKETFLOW_CONTROL' \
        '{"name":"MARKETFLOW_CONTROL","subjects":["marketflow.control.>"],"storage":"file"}')
    [[ $(jq -r '.config.name' <<<"$out") == MARKETFLOW_CONTROL ]] || mf_fail "stream create: $out"
    for i in 1 2 3; do
        out=$(nats_req "$MF_NATS_PORT" marketflow.control.selftest "m$i")
        [[ $(jq -r '.seq' <<<"$out") == "$i" ]] || mf_fail "JetStream publish $i: $out"
    done
    local port=$MF_NATS_PORT
    mf_restart_nats
    [[ $MF_NATS_PORT == "$port" ]] || mf_fail "nats restarted on another port"
    # shellcheck disable=SC2016
    out=$(nats_req "$MF_NATS_PORT" '$JS.API.STREAM.INFO.MARKETFLOW_CONTROL' '')
    [[ $(jq -r '.state.messages' <<<"$out") == 3 ]] || mf_fail "stream lost: $out"
    out=$(curl -fsS "$MF_NATS_MONITOR_URL/jsz")
    [[ $(jq -r '.config.store_dir' <<<"$out") == "$MF_TMP/nats"* ]] || mf_fail "jsz: $out"
    [[ $(jq -r '.streams' <<<"$out") == 1 ]] || mf_fail "jsz streams: $out"

    # Redis: same port, data gone (no persistence by design).
    port=$MF_REDIS_PORT
    mf_restart_redis
    [[ $MF_REDIS_PORT == "$port" && $(mf_redis_cli PING) == PONG ]] || mf_fail "redis restart"
    [[ -z $(mf_redis_cli GET selftest:key) ]] || mf_fail "redis kept data without persistence"

    # PostgreSQL: rows survive a restart.
    mf_psql -c 'create table t (x int); insert into t values (41), (1)'
    port=$MF_PG_PORT
    mf_restart_postgres
    [[ $MF_PG_PORT == "$port" ]] || mf_fail "postgres restarted on another port"
    [[ $(mf_psql -c 'select sum(x) from t') == 42 ]] || mf_fail "postgres lost data"
    report_state

    # Stop and start again by the public functions too.
    mf_stop_redis
    ! mf_running redis-server || mf_fail "redis still running after mf_stop_redis"
    if mf_redis_cli PING >/dev/null 2>&1; then mf_fail "redis answers after stop"; fi
    mf_start_redis
    mf_stop_nats
    mf_start_nats
    report_state
    mf_stop_postgres
    ! mf_running postgres || mf_fail "postgres still running after mf_stop_postgres"
}

check_processes() {
    local code
    # TERM: sleep dies of it (128+15).
    mf_stop_bg sleeper
    code=$(mf_exit_code sleeper)
    [[ $code == 143 ]] || mf_fail "sleeper exit code $code, want 143"
    ! mf_running sleeper || mf_fail "sleeper still running"

    # A process that ignores TERM gets KILL after MF_STOP_TIMEOUT.
    mf_start_bg stubborn bash -c 'trap "" TERM; echo up; while :; do sleep 0.1; done'
    mf_wait_for 5 grep -q up "$MF_TMP/stubborn.log"
    MF_STOP_TIMEOUT=1 mf_stop_bg stubborn
    code=$(mf_exit_code stubborn)
    [[ $code == 137 ]] || mf_fail "stubborn exit code $code, want 137"

    # mf_kill9, and the same name can be started again.
    mf_start_bg sleeper sleep 1000
    mf_kill9 sleeper
    [[ $(mf_exit_code sleeper) == 137 ]] || mf_fail "mf_kill9 exit code"

    # mf_wait_exit reports the process's own exit code.
    mf_start_bg quitter bash -c 'sleep 0.3; exit 3'
    mf_wait_exit quitter 5
    code=$(mf_exit_code quitter)
    [[ $code == 3 ]] || mf_fail "quitter exit code $code, want 3"

    # mf_try_for gives up; mf_wait_for succeeds once the condition holds.
    if mf_try_for 0.5 false; then mf_fail "mf_try_for false succeeded"; fi
    touch "$MF_TMP/later" && mf_wait_for 2 test -e "$MF_TMP/later"

    # mf_free_port: no port twice.
    local -a ports=()
    for _ in $(seq 20); do ports+=("$(mf_free_port)"); done
    [[ $(printf '%s\n' "${ports[@]}" | sort -u | wc -l) == 20 ]] || mf_fail "duplicate ports"

    # mf_bin finds a binary by name below BUILD_DIR.
    mkdir -p "$MF_TMP/build/x/y"
    printf '#!/bin/sh\n' >"$MF_TMP/build/x/y/marketflow-selftest"
    chmod +x "$MF_TMP/build/x/y/marketflow-selftest"
    [[ $(BUILD_DIR=$MF_TMP/build mf_bin selftest) == "$MF_TMP/build/x/y/marketflow-selftest" ]] ||
        mf_fail "mf_bin"
    if BUILD_DIR=$MF_TMP/build mf_bin nothere 2>/dev/null; then mf_fail "mf_bin nothere"; fi
}

scenario() {
    local mode=$1
    REPORT=$2
    # shellcheck source=lib.sh
    source "$HERE/lib.sh"
    start_all
    case "$mode" in
        full)
            check_servers
            check_restarts
            check_processes
            report_state
            report ok
            ;;
        fail)
            mf_fail "deliberate failure (expected)"
            ;;
        term | kill)
            report ready
            while :; do sleep 0.2; done
            ;;
    esac
}

if [[ ${1:-} == --scenario ]]; then
    scenario "$2" "$3"
    exit 0
fi

# ---- parent --------------------------------------------------------------------------------

# shellcheck source=lib.sh
source "$HERE/lib.sh"

# True when nothing the child recorded is left: processes, temporary dir, port reservations.
child_clean() {
    local report=$1 key val p
    while read -r key val; do
        case "$key" in
            pid) [[ -d /proc/$val ]] && return 1 ;;
            tmp) [[ -e $val ]] && return 1 ;;
            ports) for p in $val; do [[ -e $MF_PORT_DIR/$p ]] && return 1; done ;;
        esac
    done <"$report"
    return 0
}

run_scenario() {
    local mode=$1 want_rc=$2 report="$MF_TMP/$1.report" rc=0
    : >"$report"
    case "$mode" in
        full | fail)
            bash "$0" --scenario "$mode" "$report" >"$MF_TMP/$mode.out" 2>&1 || rc=$?
            ;;
        term | kill)
            bash "$0" --scenario "$mode" "$report" >"$MF_TMP/$mode.out" 2>&1 &
            local child=$!
            mf_wait_for 60 grep -q '^ready' "$report"
            kill -s "${mode^^}" "$child"
            wait "$child" || rc=$?
            ;;
    esac
    if [[ $rc != "$want_rc" ]]; then
        cat "$MF_TMP/$mode.out" >&2
        mf_fail "scenario $mode exited $rc, want $want_rc"
    fi
    grep -q '^pid' "$report" || mf_fail "scenario $mode started nothing"
    # The trap cleans before the child exits; the reaper (kill) needs a moment.
    mf_wait_for 15 child_clean "$report"
    mf_pass "scenario $mode: exit $rc, nothing left behind"
}

run_scenario full 0
grep -q '^ok' "$MF_TMP/full.report" || mf_fail "full scenario did not finish"
run_scenario fail 1
grep -q 'FAIL: .*deliberate failure' "$MF_TMP/fail.out" || mf_fail "mf_fail printed no FAIL line"
grep -q -- '----- nats-server.log' "$MF_TMP/fail.out" || mf_fail "mf_fail printed no log tail"
run_scenario term 143
run_scenario kill 137
mf_pass "fixture library works"
