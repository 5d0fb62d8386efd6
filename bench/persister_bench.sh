#!/usr/bin/env bash
# persister_bench: how many rollups/s and rows/s each persister sink sustains.
#
#   BUILD_DIR=build bench/persister_bench.sh [COUNT] [SYMBOLS]
#
# 1. PostgreSQL, backlog drain: COUNT 1 s partials (SYMBOLS keys, two producers) are preloaded
#    into MARKETFLOW_ROLLUPS, then one persister --sink postgres starts; timed from its
#    "running" line to its last batch commit (its debug log has every batch).
# 2. Redis, start-up rebuild: a persister --sink redis starts and replays the window (the
#    same COUNT partials): timed by its "rebuild done" line.
# 3. Live: both run while COUNT more partials are published; timed from the first publish to
#    each sink's last commit (so bounded by the publisher as well, printed alone).
# Progress is read from the persisters' logs, not from the server's consumer info: computing
# num_pending of a filtered consumer scans the stream under its lock and slows delivery.
# Real servers on loopback (tests/integration/lib.sh). Prints figures; asserts nothing.
set -euo pipefail
SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build}
source "$SOURCE_DIR/tests/integration/lib.sh"
COUNT=${1:-200000}
SYMBOLS=${2:-300}
PRELOAD="$BUILD_DIR/services/persister/bench_persister"
PERSISTER=$(mf_bin persister)
[[ -x $PRELOAD ]] || mf_fail "bench_persister not built"
export MARKETFLOW_LOG_LEVEL=debug

mf_start_nats >/dev/null 2>&1
mf_start_postgres >/dev/null 2>&1
mf_start_redis >/dev/null 2>&1

# progress LOG [SINCE_MS]: "<messages> <rows> <running_ms> <last_commit_ms>" from a log.
progress() {
    python3 - "$1" "${2:-0}" <<'PY'
import re, sys, datetime
msgs = rows = 0
run = last = 0
def ms(line):
    t = re.match(r"ts=(\S+)Z", line).group(1)
    d = datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
    return int(d.timestamp() * 1000)
for line in open(sys.argv[1]):
    if 'msg="running' in line:
        run = ms(line)
    m = re.search(r"batch committed messages=(\d+) .*rows=(\d+)", line)
    if m and ms(line) >= int(sys.argv[2]):
        msgs += int(m.group(1)); rows += int(m.group(2)); last = ms(line)
print(msgs, rows, run, last)
PY
}
# wait_msgs LOG N [SINCE_MS]: until the log shows N messages committed.
wait_msgs() {
    local p
    while :; do
        read -r -a p <<<"$(progress "$1" "${3:-0}")"
        ((p[0] >= $2)) && return 0
        sleep 0.5
    done
}
rate() { python3 -c "import sys; print('%.0f' % (float(sys.argv[1]) * 1000 / max(1, float(sys.argv[2]))))" "$1" "$2"; }

echo "== preload: $COUNT partials, $SYMBOLS keys"
"$PRELOAD" "$COUNT" "$SYMBOLS"

echo "== postgres: backlog drain, 1 replica (batch_rows 5000)"
mf_start_bg pgb "$PERSISTER" --sink postgres >/dev/null 2>&1
wait_msgs "$MF_TMP/pgb.log" "$COUNT"
read -r n rows run last <<<"$(progress "$MF_TMP/pgb.log")"
echo "postgres: $n rollups in $((last - run)) ms: $(rate "$n" $((last - run))) rollups/s;" \
    "$rows minute-row upserts: $(rate "$rows" $((last - run))) rows/s"

echo "== redis: start-up rebuild of the window, 1 replica"
mf_start_bg rdb "$PERSISTER" --sink redis >/dev/null 2>&1
mf_wait_for 600 grep -q "rebuild done" "$MF_TMP/rdb.log"
line=$(grep -o 'rebuild done.*' "$MF_TMP/rdb.log" | head -1)
n=$(grep -o 'partials=[0-9]*' <<<"$line" | cut -d= -f2)
ms=$(grep -o 'ms=[0-9]*' <<<"$line" | cut -d= -f2)
echo "redis rebuild: $n rollups in $ms ms: $(rate "$n" "$ms") rollups/s (one hash merge each)"

echo "== live: both sinks running while $COUNT more partials are published"
sleep 2
t0=$(date +%s%3N)
"$PRELOAD" "$COUNT" "$SYMBOLS" 400 live
t_pub=$(date +%s%3N)
wait_msgs "$MF_TMP/pgb.log" "$COUNT" "$t0"
wait_msgs "$MF_TMP/rdb.log" "$COUNT" "$t0"
read -r n rows _ last <<<"$(progress "$MF_TMP/pgb.log" "$t0")"
echo "publisher: $(rate "$COUNT" $((t_pub - t0))) rollups/s"
echo "postgres live: $n rollups in $((last - t0)) ms: $(rate "$n" $((last - t0))) rollups/s," \
    "$(rate "$rows" $((last - t0))) rows/s"
read -r n rows _ last <<<"$(progress "$MF_TMP/rdb.log" "$t0")"
echo "redis live: $n rollups in $((last - t0)) ms: $(rate "$n" $((last - t0))) rollups/s"
mf_stop_bg pgb
mf_stop_bg rdb
