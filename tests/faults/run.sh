#!/usr/bin/env bash
# tests/faults/run.sh: crash, restart and bad-input suite over the whole local stack.
#
# One stack run: nats-server (JetStream on disk), PostgreSQL, Redis, the generator (3 feeds,
# fixed rate, extended lines, line log on), one collector, two aggregators (agg1, agg2), one
# PostgreSQL and one Redis persister, the api. Faults are injected one at a time; after each,
# the suite waits until every stored figure is right again (tests/faults/acct.py polls
# PostgreSQL and Redis against the oracle over the generator logs every second):
#   kill -9 + restart of collector, agg1, persister --sink postgres, persister --sink redis, api;
#   restart of nats-server (JetStream store kept), redis-server (cache emptied), PostgreSQL;
#   a feed (exchange4, own generator) that disconnects every 2 s;
#   a feed (exchange5, own generator) with garbage, partial lines, duplicates, late ticks.
# At the end: the table fault -> lost / duplicated / recovered in s (printed, and written to
# $MF_TMP/faults_table.md; with --write-doc also into docs/reliability.md between the
# markers). Fails when a fault loses or duplicates ticks it must not, does not recover, or a
# final row outside a kill -9 damage window differs from the oracle.
#
# Usage: tests/faults/run.sh [--soak] [--write-doc]
#   --soak (or MF_SOAK=1): higher rate, every fault three times, longer quiet periods.
# Environment: BUILD_DIR, SOURCE_DIR (CTest sets them), MF_FAULTS_RATE (lines/s per feed),
# MF_FAULTS_LAG_MS (how far PostgreSQL/Redis may trail the newest tick and still count as
# right; default 5000), MF_FAULTS_ONLY (comma list of fault ids to run, for debugging).
set -euo pipefail
soak=${MF_SOAK:-0}
write_doc=0
for arg in "$@"; do
    case $arg in
    --soak) soak=1 ;;
    --write-doc) write_doc=1 ;;
    *) echo "run.sh: unknown argument $arg" >&2; exit 2 ;;
    esac
done
FAULTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$FAULTS_DIR/../integration/lib.sh"
ACCT="$SOURCE_DIR/tests/faults/acct.py"
for svc in generator collector aggregator persister api; do
    mf_bin "$svc" >/dev/null || mf_fail "marketflow-$svc not built"
done

rate=${MF_FAULTS_RATE:-200}
rounds=1
quiet=2 # s of normal running before each fault
if [[ $soak == 1 ]]; then
    rate=${MF_FAULTS_RATE:-1000}
    rounds=3
    quiet=20
fi
lag=${MF_FAULTS_LAG_MS:-5000}
EVENTS="$MF_TMP/events.jsonl"
POLLS="$MF_TMP/polls.jsonl"
: >"$EVENTS"

# ---- the stack -----------------------------------------------------------------------------
mf_start_nats
mf_start_postgres
mf_start_redis
mf_feeds 3
MAIN_FEEDS=$MF_FEEDS
FEED4="exchange4=127.0.0.1:$(mf_free_port)"
FEED5="exchange5=127.0.0.1:$(mf_free_port)"
export MARKETFLOW_EXCHANGES_TEST="$MAIN_FEEDS,$FEED4,$FEED5"
export MARKETFLOW_EXCHANGES_MODE=test MARKETFLOW_PERSISTER_FLUSH_MS=500
mf_setup_api
export MF_PSQL=$_MF_PSQL MF_PG_PORT MF_REDIS_PORT

start_svc() {
    case $1 in
    collector) mf_start_bg collector "$(mf_bin collector)" ;;
    agg1 | agg2) mf_start_bg "$1" env MARKETFLOW_LOG_INSTANCE="$1" "$(mf_bin aggregator)" ;;
    pg) mf_start_bg pg env MARKETFLOW_LOG_INSTANCE=pg "$(mf_bin persister)" --sink postgres ;;
    rd) mf_start_bg rd env MARKETFLOW_LOG_INSTANCE=rd "$(mf_bin persister)" --sink redis ;;
    api) mf_start_bg api "$(mf_bin api)" ;;
    esac
}
for s in pg rd agg1 agg2; do start_svc "$s"; done
for s in agg1 agg2; do mf_wait_for 30 grep -q consuming "$MF_TMP/$s.log"; done
mf_wait_for 30 mf_psql -c "SELECT 1 FROM aggregated_prices LIMIT 1"
start_svc collector
start_svc api
mf_wait_for 30 curl -fsS "$MF_API_URL/ping"
mf_start_bg generator env MARKETFLOW_GENERATOR_LISTEN="$MAIN_FEEDS" "$(mf_bin generator)" \
    --rate "$rate" --extended --seed 11 --log "$MF_TMP/sent_main.lines"
# One log per feed phase and round: a generator truncates its log when it starts, and the
# accountant reads each file incrementally by offset.
LOGS="$MF_TMP/sent_main.lines"
for ((r = 1; r <= rounds; r++)); do
    LOGS+=",$MF_TMP/sent_exchange4_r$r.lines,$MF_TMP/sent_exchange5_r$r.lines"
done
mf_start_bg acct python3 "$ACCT" watch --logs "$LOGS" --events "$EVENTS" --out "$POLLS" \
    --lag-ms "$lag"

now_ms() {
    local us=${EPOCHREALTIME/./}
    echo $((us / 1000))
}
settled() {
    python3 "$ACCT" settled --events "$EVENTS" --polls "$POLLS" --n 3 --after "${1:-0}"
}
mf_wait_for 60 settled
_mf_log "stack running, figures exact; injecting faults (rate $rate lines/s per feed)"

# ---- faults --------------------------------------------------------------------------------
n=0
T_FAULT=0
T_BACK=0
T_EXTRA=0
record() { # name expect
    printf '{"i":%d,"name":"%s","expect":"%s","t_fault":%d,"t_back":%d,"t_extra_ok":%d}\n' \
        "$n" "$1" "$2" "$T_FAULT" "$T_BACK" "$T_EXTRA" >>"$EVENTS"
    n=$((n + 1))
}
# Waits until the figures are right again (3 settled polls in a row), at most $1 s.
recovered() {
    local limit=$1
    if ! mf_try_for "$limit" settled "$(now_ms)"; then
        _mf_log "not recovered after ${limit}s: $(tail -c 400 "$MF_TMP/.mf/last_try")"
    fi
}
kill9() { # service name down_s expect limit
    sleep "$quiet"
    T_FAULT=$(now_ms)
    mf_kill9 "$1"
    sleep "${3:-1}"
    T_BACK=$(now_ms)
    T_EXTRA=0
    start_svc "$1"
    if [[ $1 == api ]]; then
        mf_wait_for 30 curl -fsS "$MF_API_URL/prices/latest/exchange1/BTCUSDT"
        T_EXTRA=$(now_ms)
    fi
    record "kill -9 $2" "${4:-none}"
    recovered "${5:-60}"
}
server_restart() { # what
    sleep "$quiet"
    T_FAULT=$(now_ms)
    "mf_restart_$1"
    T_BACK=$(now_ms)
    T_EXTRA=0
    case $1 in
    nats) record "restart nats-server (JetStream store kept)" none ;;
    redis) record "restart redis-server (cache emptied)" none ;;
    postgres) record "restart PostgreSQL" none ;;
    esac
    recovered 60
}
# Next fault with expected damage must not share a minute with an earlier damage window.
next_minute_if_damaged() {
    local last=$1 now
    now=$(now_ms)
    if (((now - 3000) / 60000 <= (last + 1500) / 60000)); then
        sleep $(((60000 - now % 60000) / 1000 + 4))
    fi
}
feed_phase() { # name exchange spec seconds
    local name=$1 feed=$2 spec=$3 secs=$4 ex=${2%%=*}
    sleep "$quiet"
    T_FAULT=$(now_ms)
    mf_start_bg "gen_$ex" "$(mf_bin generator)" --listen "$feed" --rate "$rate" --extended \
        --seed "$((RANDOM + 1))" --faults "$spec" --log "$MF_TMP/sent_${ex}_r$round.lines"
    sleep "$secs"
    mf_stop_bg "gen_$ex"
    T_BACK=$(now_ms)
    T_EXTRA=0
    record "$name" none
    recovered 60
}

only=${MF_FAULTS_ONLY:-}
want() { [[ -z $only || ",$only," == *",$1,"* ]]; }
last_damage=0
for ((round = 1; round <= rounds; round++)); do
    if want collector; then
        next_minute_if_damaged "$last_damage"
        kill9 collector "collector" 2 loss
        last_damage=$T_FAULT
    fi
    want pg && kill9 pg "persister --sink postgres" 2
    want rd && kill9 rd "persister --sink redis" 2
    want api && kill9 api "api" 1
    want nats && server_restart nats
    want redis && server_restart redis
    want postgres && server_restart postgres
    want disconnect && feed_phase "feed disconnecting every 2 s" "$FEED4" \
        "disconnect_every_s=2" 9
    want badfeed && feed_phase "feed with garbage, partial, duplicate, late lines" "$FEED5" \
        "malformed=0.05,duplicate=0.05,reorder=0.05" 9
    if want aggregator; then
        next_minute_if_damaged "$last_damage"
        # Unacked ticks come back after AckWait (30 s, sometimes two periods).
        kill9 agg1 "aggregator (agg1 of 2)" 2 dup 100
        # Its damage includes the redelivery window (acct.py REDELIVERY_TO_MS after the kill):
        # the next round's collector kill must not share a minute with it, or the collector's
        # lines in flight would be booked to this fault.
        last_damage=$((T_FAULT + 65000))
    fi
done

# ---- the end: stop the feeds, drain, final exact accounting -------------------------------
mf_stop_bg generator
mf_wait_for 60 settled "$(now_ms)"
mf_stop_bg acct
# The report allows no lag: wait (bounded) until the last ticks have reached both stores.
if ! mf_try_for 60 python3 "$ACCT" exact --logs "$LOGS" --events "$EVENTS"; then
    _mf_log "not exact 60 s after the feeds stopped: $(tail -c 400 "$MF_TMP/.mf/last_try")"
fi
python3 "$ACCT" report --logs "$LOGS" --events "$EVENTS" --polls "$POLLS" \
    --table "$MF_TMP/faults_table.md" | tee "$MF_TMP/report.txt" || rc=$?
rc=${rc:-0}
if [[ $write_doc == 1 && $rc == 0 ]]; then
    python3 - "$SOURCE_DIR/docs/reliability.md" "$MF_TMP/faults_table.md" \
        "rate $rate lines/s per feed, $rounds round(s), $(date -u +%Y-%m-%d)" <<'PY'
import sys
doc, table, what = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3]
s = open(doc).read()
a, b = "<!-- faults-table:begin -->", "<!-- faults-table:end -->"
i, j = s.index(a) + len(a), s.index(b)
open(doc, "w").write(s[:i] + "\n(" + what + ")\n\n" + table + s[j:])
PY
    _mf_log "table written to docs/reliability.md"
fi
for s in collector agg1 agg2 pg rd api; do
    mf_stop_bg "$s"
    [[ $(mf_exit_code "$s") == 0 ]] || mf_fail "$s exit code $(mf_exit_code "$s") after SIGTERM"
done
[[ $rc == 0 ]] || mf_fail "fault accounting failed: $(grep '^FAILURE' "$MF_TMP/report.txt" |
    tr '\n' ' ') (table above)"
mf_pass "every fault accounted for; figures exact again after each"
