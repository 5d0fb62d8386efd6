#!/usr/bin/env bash
# collector_generator: end to end with the real generator (three feeds, extended lines with
# qty/id/side, a fixed number of lines): every line the generator logged as sent is in
# MARKETFLOW_TICKS exactly once, bit for bit. Skipped (77) when the generator is not built.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CAT="$BUILD_DIR/tests/tools/mf-cat"
CHECK="python3 $SOURCE_DIR/tests/integration/collector_check.py"
[[ -x $CAT ]] || mf_fail "mf-cat not built ($CAT)"
GEN=$(mf_bin generator 2>/dev/null) || mf_fail "marketflow-generator not built"

mf_start_nats
mf_feeds 3
export MARKETFLOW_EXCHANGES_MODE=test
mf_start_bg collector "$(mf_bin collector)"
mf_wait_for 10 grep -q "feed not reachable exchange=exchange3" "$MF_TMP/collector.log"
N=400
mf_start_bg generator "$GEN" --rate 200 --count "$N" --extended --log "$MF_TMP/sent.log"
mf_wait_exit generator 30 >/dev/null
TOTAL=$(grep -c . "$MF_TMP/sent.log")
((TOTAL == 3 * N)) || mf_fail "generator logged $TOTAL lines, expected $((3 * N))"
stored() {
    "$CAT" stream MARKETFLOW_TICKS --timeout-ms 1000 >"$MF_TMP/ticks.jsonl"
    [[ $(grep -c . "$MF_TMP/ticks.jsonl") -ge $TOTAL ]]
}
mf_wait_for 20 stored
sleep 1
"$CAT" stream MARKETFLOW_TICKS --timeout-ms 1000 >"$MF_TMP/ticks.jsonl"
$CHECK genlog "$MF_TMP/ticks.jsonl" "$MF_TMP/sent.log" || mf_fail "bus != generator log"
mf_running collector || mf_fail "collector exited after the generator ended"
mf_pass "generator -> collector: $TOTAL lines, $TOTAL ticks, exact"
