#!/usr/bin/env bash
# collector_robust: a scripted fake feed (split lines, CRLF, garbage, a 1 MiB line, NaN,
# negative and zero prices, bad symbols, missing fields, far timestamps, a partial last line,
# then a disconnect) -> exactly the valid ticks on the bus, rejects counted by reason; the
# feed is absent at start, drops, is killed and restarted: the collector reconnects and ticks
# resume.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CAT="$BUILD_DIR/tests/tools/mf-cat"
CHECK="python3 $SOURCE_DIR/tests/integration/collector_check.py"
FEED="$SOURCE_DIR/tests/integration/fake_feed.py"
[[ -x $CAT ]] || mf_fail "mf-cat not built ($CAT)"

mf_start_nats
PORT=$(mf_free_port)
export MARKETFLOW_EXCHANGES_TEST="exchange1=127.0.0.1:$PORT" MARKETFLOW_EXCHANGES_MODE=test

# 1. The feed is not there at start: the collector runs and retries.
mf_start_bg collector "$(mf_bin collector)"
mf_wait_for 10 grep -q "feed not reachable exchange=exchange1" "$MF_TMP/collector.log"
sleep 1
mf_running collector || mf_fail "collector exited while the feed was absent"
[[ $(grep -c "feed not reachable" "$MF_TMP/collector.log") -eq 1 ]] ||
    mf_fail "'not reachable' logged more than once"

# 2. The scripted feed appears; later connections get a steady stream.
mf_start_bg feed python3 "$FEED" --port "$PORT" --script robust --then-stream \
    --expect "$MF_TMP/expect.jsonl" --events "$MF_TMP/events.txt"
mf_wait_for 10 grep -q "disconnect 1" "$MF_TMP/events.txt"
mf_wait_for 10 grep -q "connect 2" "$MF_TMP/events.txt"

status() { # waits for a heartbeat and keeps it in $MF_TMP/status.json
    "$CAT" sub 'marketflow.status.collector.>' --count 1 --timeout-ms 5000 >"$MF_TMP/status.json"
    [[ -s $MF_TMP/status.json ]]
}
lines_done() {
    status && $CHECK status "$MF_TMP/status.json" 'feeds.exchange1.lines>=24'
}
mf_wait_for 15 lines_done
$CHECK status "$MF_TMP/status.json" mode='"test"' feeds.exchange1.rejected.json=4 \
    feeds.exchange1.rejected.too_long=1 feeds.exchange1.rejected.price=3 \
    feeds.exchange1.rejected.symbol=4 feeds.exchange1.rejected.missing=2 \
    feeds.exchange1.rejected.timestamp=2 'feeds.exchange1.reconnects>=1' \
    feeds.exchange1.connected=true || mf_fail "status counters"

dump() {
    "$CAT" stream MARKETFLOW_TICKS --timeout-ms 1500 >"$MF_TMP/ticks.jsonl"
}
dump
$CHECK robust "$MF_TMP/expect.jsonl" "$MF_TMP/ticks.jsonl" exchange1 || mf_fail "robust ticks"
# The stream after the reconnect is flowing too.
[[ $(wc -l <"$MF_TMP/ticks.jsonl") -gt 7 ]] || mf_fail "no ticks after the reconnect"

# 3. Kill the feed: disconnect logged once, collector keeps running; restart: ticks resume.
mf_kill9 feed
mf_wait_for 5 grep -q "feed disconnected exchange=exchange1" "$MF_TMP/collector.log"
sleep 2
mf_running collector || mf_fail "collector exited when the feed died"
"$CAT" sub 'marketflow.ticks.exchange1.>' --count 1 --timeout-ms 15000 >"$MF_TMP/first.json" &
SUB=$!
sleep 0.5
mf_start_bg feed python3 "$FEED" --port "$PORT" --stream --events "$MF_TMP/events2.txt"
wait "$SUB"
T0=$(sed -n 's/^listening on [0-9]* at \([0-9]*\)$/\1/p' "$MF_TMP/feed.log" | tail -1)
[[ -s $MF_TMP/first.json ]] || mf_fail "no tick after the feed came back"
DELAY=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["recv_ts"] - int(sys.argv[2]))' "$MF_TMP/first.json" "$T0")
echo "first tick read ${DELAY} ms after the restarted feed listened"
((DELAY < 2000)) || mf_fail "ticks resumed only after ${DELAY} ms"
# Each connect and each disconnect is logged once: while connected, one more "connected".
CONN=$(grep -c "feed connected exchange=exchange1" "$MF_TMP/collector.log")
DISC=$(grep -c "feed disconnected exchange=exchange1" "$MF_TMP/collector.log")
((CONN == DISC + 1)) || mf_fail "connected logged $CONN times, disconnected $DISC times"
((CONN <= 6)) || mf_fail "connect/disconnect logged too often ($CONN)"

# 4. SIGTERM: clean exit 0.
mf_stop_bg collector
[[ $(mf_exit_code collector) -eq 0 ]] || mf_fail "collector exit code $(mf_exit_code collector)"
mf_pass "robust feed handling, reconnects, resume after restart"
