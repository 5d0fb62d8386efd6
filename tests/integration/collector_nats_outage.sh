#!/usr/bin/env bash
# collector_nats_outage: NATS goes away for a few seconds while a feed keeps sending. The
# collector keeps reading the feed (lines counted on /metrics during the outage), holds the
# ticks, never exits, and once NATS is back every line the feed sent is in MARKETFLOW_TICKS
# exactly once (held ticks republished, timed-out publishes retried under the same Msg-Id).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CAT="$BUILD_DIR/tests/tools/mf-cat"
CHECK="python3 $SOURCE_DIR/tests/integration/collector_check.py"
FEED="$SOURCE_DIR/tests/integration/fake_feed.py"
[[ -x $CAT ]] || mf_fail "mf-cat not built ($CAT)"

mf_start_nats
PORT=$(mf_free_port)
MPORT=$(mf_free_port)
export MARKETFLOW_EXCHANGES_TEST="exchange1=127.0.0.1:$PORT" MARKETFLOW_EXCHANGES_MODE=test
export MARKETFLOW_METRICS_PORT=$MPORT MARKETFLOW_METRICS_BIND=127.0.0.1
mf_start_bg feed python3 "$FEED" --port "$PORT" --stream --interval-ms 20 --log "$MF_TMP/sent.jsonl"
mf_start_bg collector "$(mf_bin collector)"

one_tick() {
    "$CAT" sub 'marketflow.ticks.exchange1.>' --count 1 --timeout-ms 5000 >"$MF_TMP/one.json"
    [[ -s $MF_TMP/one.json ]]
}
metric() { # metric NAME: its value on /metrics (first series)
    curl -fsS -m 2 "http://127.0.0.1:$MPORT/metrics" | awk -v n="marketflow_$1" \
        'index($1, n) == 1 { print $2; exit }'
}
mf_wait_for 10 one_tick

mf_stop_nats
sleep 1
L1=$(metric collector_lines_total)
sleep 2
L2=$(metric collector_lines_total)
HELD=$(metric collector_publish_held)
echo "during the outage: lines $L1 -> $L2, held $HELD"
((L2 > L1)) || mf_fail "the feed was not read while NATS was down"
((HELD > 0)) || mf_fail "nothing held while NATS was down"
mf_running collector || mf_fail "collector exited while NATS was down"

mf_restart_nats
mf_wait_for 15 one_tick
sleep 1
mf_stop_bg feed
# Held ticks are republished at once; publishes lost in the cut are retried after the 3 s
# PubAck timeout.
all_there() {
    "$CAT" stream MARKETFLOW_TICKS --timeout-ms 1000 >"$MF_TMP/ticks.jsonl"
    [[ $(grep -c . "$MF_TMP/ticks.jsonl") -ge $(grep -c . "$MF_TMP/sent.jsonl") ]]
}
mf_wait_for 20 all_there
sleep 1
"$CAT" stream MARKETFLOW_TICKS --timeout-ms 1000 >"$MF_TMP/ticks.jsonl"
$CHECK sent "$MF_TMP/ticks.jsonl" "exchange1=$MF_TMP/sent.jsonl" || mf_fail "lost or doubled"
echo "dropped: $(metric collector_publish_dropped_total) retried: $(metric collector_publish_retries_total)"
mf_stop_bg collector
[[ $(mf_exit_code collector) -eq 0 ]] || mf_fail "collector exit code $(mf_exit_code collector)"
mf_pass "NATS outage: feed kept read, ticks held and republished exactly once"
