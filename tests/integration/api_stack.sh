#!/usr/bin/env bash
# api_stack: the whole pipeline behind the API. generator -> collector -> aggregator ->
# persister (postgres) + persister (redis) -> api, with the cache retention set to 60 s.
# The ticks on the bus are captured with mf-cat; while the pipeline ingests, every price
# route is checked against the oracle over those ticks for periods 1s, 5s (Redis), 1m, 5m
# and 3m (longer than the retention: PostgreSQL minutes + Redis tail). Then: health is ok,
# turns degraded when Redis stops and ok again when it returns; POST /mode/live is seen in
# the collectors' status heartbeats ("mode"), and /mode/test switches them back.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/api_lib.sh"
MFCAT="$BUILD_DIR/tests/tools/mf-cat"
for svc in generator collector aggregator persister api; do
    mf_bin "$svc" >/dev/null 2>&1 || mf_fail "marketflow-$svc not built"
done
[[ -x $MFCAT ]] || mf_fail "mf-cat not built"

mf_api_stack_servers

mf_start_bg capture "$MFCAT" sub 'marketflow.ticks.>'
mf_start_bg pg "$(mf_bin persister)" --sink postgres
mf_start_bg rd "$(mf_bin persister)" --sink redis
mf_start_bg aggregator "$(mf_bin aggregator)"
mf_wait_for 30 grep -q consuming "$MF_TMP/aggregator.log"
mf_start_bg collector "$(mf_bin collector)"
mf_start_bg api "$(mf_bin api)"
mf_wait_for 30 curl -fsS "$MF_API_URL/ping"
mf_start_bg generator "$(mf_bin generator)" --seed 7
mf_wait_for 60 bash -c "curl -sS '$MF_API_URL/health' | jq -e '.status == \"ok\"'"
mf_pass "health ok with the whole stack"

sleep 75 # more than the retention, and at least one whole minute in PostgreSQL
CAPTURE=$MF_TMP/capture.log
for period in 1s 5s; do mf_api_check_all "$period" redis "$CAPTURE"; done
for period in 1m 5m 3m; do
    mf_api_check_all "$period" 'redis\+postgres|postgres' "$CAPTURE"
done
mf_api_req /prices/latest/btcusdt
[[ $(jq -r .source <<<"$BODY") == bus ]] || mf_fail "latest source: $BODY"
mf_pass "values equal the oracle over the bus ticks for 1s 5s (Redis), 1m 5m 3m (PostgreSQL + Redis)"

mf_stop_redis
mf_wait_for 15 bash -c "curl -sS '$MF_API_URL/health' | jq -e '.status == \"degraded\"'"
mf_api_req "/prices/average/BTCUSDT?period=5m"
[[ $(jq -r .source <<<"$BODY") == postgres ]] || mf_fail "Redis down: $BODY"
$API_ORACLE check "$MF_TMP/capture.log" "$BODY" average "" BTCUSDT || mf_fail "Redis down: $BODY"
mf_restart_redis
mf_wait_for 30 bash -c "curl -sS '$MF_API_URL/health' | jq -e '.status == \"ok\"'"
mf_pass "health degraded while Redis is down (answers from PostgreSQL), ok when it returns"

collector_mode() {
    curl -sS "$MF_API_URL/health" | jq -e --arg m "$1" \
        '[.components.collectors.instances[] | select(.alive)] | length > 0 and all(.mode == $m)'
}
mf_api_req /mode
[[ $(jq -r .mode <<<"$BODY") == test ]] || mf_fail "mode: $BODY"
BODY=$(curl -sS -X POST -H "Authorization: Bearer $MF_API_MODE_TOKEN" "$MF_API_URL/mode/live")
jq -e '.mode == "live" and .previous == "test" and .changed' <<<"$BODY" >/dev/null ||
    mf_fail "POST /mode/live: $BODY"
mf_wait_for 15 collector_mode live
BODY=$(curl -sS -X POST -H "Authorization: Bearer $MF_API_MODE_TOKEN" "$MF_API_URL/mode/live")
jq -e '.changed == false' <<<"$BODY" >/dev/null || mf_fail "idempotent: $BODY"
BODY=$(curl -sS -X POST -H "Authorization: Bearer $MF_API_MODE_TOKEN" "$MF_API_URL/mode/test")
jq -e '.changed and .previous == "live"' <<<"$BODY" >/dev/null || mf_fail "back: $BODY"
mf_wait_for 15 collector_mode test
mf_pass "mode switch observed at the collectors"

mf_stop_bg api
[[ $(mf_exit_code api) == 0 ]] || mf_fail "api exit code $(mf_exit_code api)"
