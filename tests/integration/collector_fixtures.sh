#!/usr/bin/env bash
# collector_fixtures: three fake feeds replay the captured exchange samples
# (tests/fixtures/exchange-feed, or $MF_FIXTURES); the MARKETFLOW_TICKS stream then holds
# exactly one tick per fixture line: exchange named by the endpoint, symbol, ts, and the price
# bit for bit. Run once with transport=jetstream; a second pass checks core NATS delivery.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CAT="$BUILD_DIR/tests/tools/mf-cat"
CHECK="python3 $SOURCE_DIR/tests/integration/collector_check.py"
FEED="$SOURCE_DIR/tests/integration/fake_feed.py"
FIX=${MF_FIXTURES:-$SOURCE_DIR/tests/fixtures/exchange-feed}
# A missing or cut-short capture fails the test: fewer lines than one second of one feed.
MIN_LINES=50
[[ -x $CAT ]] || mf_fail "mf-cat not built ($CAT)"
for i in 1 2 3; do
    n=$(grep -c . "$FIX/exchange$i.jsonl" 2>/dev/null) || n=0
    ((n >= MIN_LINES)) || mf_fail "$FIX/exchange$i.jsonl: $n lines (missing or short; want >= $MIN_LINES)"
done

mf_start_nats
# The samples were captured earlier: accept their timestamps.
export MARKETFLOW_AGGREGATOR_MAX_LATENESS_S=315360000
LIST="" SPECS=() TOTAL=0
for i in 1 2 3; do
    port=$(mf_free_port)
    # Endpoint names deliberately differ from the file names: the exchange is the endpoint.
    LIST+="${LIST:+,}venue$i=127.0.0.1:$port"
    SPECS+=("venue$i=$FIX/exchange$i.jsonl")
    TOTAL=$((TOTAL + $(grep -c . "$FIX/exchange$i.jsonl")))
    mf_start_bg "feed$i" python3 "$FEED" --port "$port" --file "$FIX/exchange$i.jsonl"
done
export MARKETFLOW_EXCHANGES_TEST=$LIST MARKETFLOW_EXCHANGES_MODE=test

mf_start_bg collector "$(mf_bin collector)"
stored() {
    "$CAT" stream MARKETFLOW_TICKS --timeout-ms 1000 >"$MF_TMP/ticks.jsonl"
    [[ $(grep -c . "$MF_TMP/ticks.jsonl") -ge $TOTAL ]]
}
mf_wait_for 20 stored
sleep 1 # anything beyond the expected count would show up now
"$CAT" stream MARKETFLOW_TICKS --timeout-ms 1000 >"$MF_TMP/ticks.jsonl"
$CHECK fixtures "$MF_TMP/ticks.jsonl" "${SPECS[@]}" || mf_fail "jetstream: ticks != fixture lines"
mf_stop_bg collector

# transport=core: the same lines arrive on plain subjects (a subscriber sees them).
export MARKETFLOW_NATS_TRANSPORT=core
"$CAT" sub 'marketflow.ticks.>' --count "$TOTAL" --timeout-ms 20000 >"$MF_TMP/core.jsonl" &
SUB=$!
sleep 0.5
mf_start_bg collector2 "$(mf_bin collector)"
wait "$SUB"
$CHECK fixtures "$MF_TMP/core.jsonl" "${SPECS[@]}" || mf_fail "core: ticks != fixture lines"
mf_pass "fixture replay: $TOTAL lines -> $TOTAL ticks, bit-exact (jetstream and core)"
