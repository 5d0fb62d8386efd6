#!/usr/bin/env bash
# api_http: marketflow-api through HTTP against real nats-server, Redis and PostgreSQL,
# with Redis and PostgreSQL seeded in the exact layout of the persister (key layout of the
# bus contract, sql/migrations) from ticks generated here; expected answers come from the
# independent oracle in api_oracle.py over those raw ticks.
# Covers: every route, every error case (400/404/405/413/401/503), period semantics for
# 1s, 5s, 1m, 5m (Redis) and 20m, 365d (PostgreSQL minutes + Redis tail), the Redis-down
# fallback to PostgreSQL ("source"), health ok/degraded/down, mode switching and its
# idempotency, the bearer token, slow clients, --help, bad flags and a port in use.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ORACLE="python3 $SOURCE_DIR/tests/integration/api_oracle.py"
API=$(mf_bin api) || mf_fail "marketflow-api not built"

mf_start_nats
mf_start_redis
mf_start_postgres
for f in "$SOURCE_DIR"/sql/migrations/*.sql; do mf_psql -f "$f" >/dev/null; done
mf_setup_api
export MARKETFLOW_REDIS_RETENTION_S=600 MARKETFLOW_API_TIMEOUT_S=2 MARKETFLOW_API_MAX_BODY=1024

T0=$(($(date +%s%3N)))
$ORACLE seed "$MF_TMP" "$T0" 600
TICKS=$MF_TMP/ticks.jsonl
mf_redis_cli --pipe <"$MF_TMP/redis.resp" >/dev/null
mf_psql -f "$MF_TMP/pg.sql" >/dev/null
mf_start_bg status-loop $ORACLE status-loop "$MF_NATS_URL" marketflow

# ---- command line ---------------------------------------------------------------------
"$API" --help | grep -q 'marketflow-api \[--port <N>\] \[--config <file>\]' || mf_fail "--help"
rc=0; "$API" --bogus 2>"$MF_TMP/bad.err" || rc=$?
[[ $rc -eq 2 && $(wc -l <"$MF_TMP/bad.err") -eq 1 ]] || mf_fail "bad flag: rc=$rc"
rc=0; "$API" --port 0 2>/dev/null || rc=$?
[[ $rc -eq 2 ]] || mf_fail "--port 0 accepted (rc=$rc)"

mf_start_bg api "$API" --port "$MF_API_PORT"
mf_wait_for 20 curl -fsS "$MF_API_URL/ping"
rc=0; "$API" --port "$MF_API_PORT" 2>"$MF_TMP/inuse.err" || rc=$?
[[ $rc -eq 1 ]] || mf_fail "port in use: rc=$rc"
grep -q "cannot listen on .*:$MF_API_PORT: Address already in use" "$MF_TMP/inuse.err" ||
    mf_fail "port in use message: $(cat "$MF_TMP/inuse.err")"
[[ $(wc -l <"$MF_TMP/inuse.err") -eq 1 ]] || mf_fail "port in use: more than one line"

# ---- helpers ----------------------------------------------------------------------------
# req METHOD PATH [curl args...] -> sets CODE and BODY
req() {
    local m=$1 p=$2
    shift 2
    BODY=$(curl -sS -X "$m" -o - -w '\n%{http_code}' "$@" "$MF_API_URL$p")
    CODE=${BODY##*$'\n'}
    BODY=${BODY%$'\n'*}
}
expect() { # expect CODE METHOD PATH [curl args]
    local want=$1
    shift
    req "$@"
    [[ $CODE == "$want" ]] || mf_fail "$* -> $CODE (want $want): $BODY"
    if [[ $want != 200 ]]; then
        jq -e '.error | type == "string"' <<<"$BODY" >/dev/null || mf_fail "$*: no error JSON"
    fi
}
field() { jq -r "$1" <<<"$BODY"; }

# ---- values against the oracle ----------------------------------------------------------
check_stat() { # kind exchange symbol period source-regex
    local kind=$1 ex=$2 sym=$3 period=$4 src=$5 path
    path=/prices/$kind/${ex:+$ex/}$sym?period=$period
    expect 200 GET "$path"
    [[ $(field .source) =~ ^($src)$ ]] || mf_fail "$path: source $(field .source), want $src"
    [[ $(field .period) == "$period" ]] || mf_fail "$path: period $(field .period)"
    [[ $(field .symbol) == "${sym^^}" ]] || mf_fail "$path: symbol $(field .symbol)"
    $ORACLE check "$TICKS" "$BODY" "$kind" "$ex" "$sym" || mf_fail "$path: $BODY"
}
for period in 1s 5s 1m 5m; do
    for kind in average highest lowest; do
        check_stat "$kind" "" BTCUSDT "$period" redis
        check_stat "$kind" EXCHANGE2 ethusdt "$period" redis
    done
done
# The seeded data ends at T0: once the last complete minute passes it (a slow machine), the
# Redis tail of a long period is empty and PostgreSQL alone answers. Values are checked either way.
for period in 20m 365d; do
    for kind in average highest lowest; do
        check_stat "$kind" "" BTCUSDT "$period" 'redis\+postgres|postgres'
        check_stat "$kind" exchange3 DOGEUSDT "$period" 'redis\+postgres|postgres'
    done
done
expect 200 GET /prices/average/all/BTCUSDT
[[ $(field .period) == 1m && $(field .exchange) == all ]] || mf_fail "default period: $BODY"
[[ $(($(field .to) - $(field .from))) -eq 60000 ]] || mf_fail "1m window: $BODY"
[[ $(($(field .to) % 1000)) -eq 0 ]] || mf_fail "to not whole seconds: $BODY"
mf_pass "values equal the oracle for 1s 5s 1m 5m (Redis) and 20m 365d (PostgreSQL + Redis)"

# latest: Redis first (nothing on the bus yet), then the bus map
expect 200 GET /prices/latest/btcusdt
[[ $(field .source) == redis ]] || mf_fail "latest source: $BODY"
$ORACLE latest "$TICKS" "$BODY" "" BTCUSDT "$T0" || mf_fail "latest: $BODY"
expect 200 GET /prices/latest/Exchange1/DOGEUSDT
$ORACLE latest "$TICKS" "$BODY" exchange1 DOGEUSDT "$T0" || mf_fail "latest ex: $BODY"
BUS_TS=$(($(date +%s%3N) + 500))
$ORACLE pub "$MF_NATS_URL" marketflow.latest.exchange2.BTCUSDT \
    "{\"exchange\":\"exchange2\",\"symbol\":\"BTCUSDT\",\"price\":123.25,\"ts\":$BUS_TS,\"recv_ts\":$BUS_TS}" \
    aggregator
mf_wait_for 5 bash -c "curl -fsS '$MF_API_URL/prices/latest/BTCUSDT' | grep -q '\"source\":\"bus\"'"
expect 200 GET /prices/latest/BTCUSDT
[[ $(field .price) == 123.25 && $(field .timestamp) == "$BUS_TS" && $(field .exchange) == exchange2 ]] ||
    mf_fail "latest from bus: $BODY"
mf_pass "latest from Redis and from the bus"

# ---- errors -----------------------------------------------------------------------------
for p in 0s -1m 5x "" 10000000d 366d 1.5m 5M; do
    expect 400 GET "/prices/average/BTCUSDT" --get --data-urlencode "period=$p"
done
expect 400 GET '/prices/highest/BTC$USDT'
expect 400 GET /prices/latest/B
expect 400 GET /prices/lowest/exchange9/BTCUSDT
[[ $(field .error) == *"known: all, exchange1"* ]] || mf_fail "unknown exchange message: $BODY"
expect 400 GET '/prices/lowest/ex%21/BTCUSDT'
expect 404 GET /prices/average/XRPUSDT
expect 404 GET /prices/latest/exchange1/XRPUSDT
expect 404 GET /nope
expect 404 GET /prices/median/BTCUSDT
expect 404 GET /prices/latest/a/b/c
expect 405 POST /prices/latest/BTCUSDT
curl -sS -D - -o /dev/null -X DELETE "$MF_API_URL/health" | grep -qi '^Allow: GET, HEAD' ||
    mf_fail "405 without Allow"
expect 405 GET /mode/test
expect 405 PUT /mode
head -c 5000 /dev/zero | tr '\0' x >"$MF_TMP/big"
expect 413 POST /mode/test --data-binary "@$MF_TMP/big"
mf_pass "400 / 404 / 405 / 413 with JSON errors"

# ---- OpenAPI ----------------------------------------------------------------------------
expect 200 GET /openapi.json
[[ $(jq -cS . <<<"$BODY") == "$(jq -cS . "$SOURCE_DIR/docs/openapi.json")" ]] ||
    mf_fail "/openapi.json differs from docs/openapi.json"
for p in /prices/latest/{symbol} /prices/average/{exchange}/{symbol} /mode /mode/test /health /openapi.json; do
    jq -e --arg p "$p" '.paths[$p]' <<<"$BODY" >/dev/null || mf_fail "openapi lacks $p"
done

# ---- mode ---------------------------------------------------------------------------------
expect 200 GET /mode
[[ $(field .mode) == test ]] || mf_fail "default mode: $BODY"
AUTH=(-H "Authorization: Bearer $MF_API_MODE_TOKEN") # the fixture's token (mf_setup_api)
expect 200 POST /mode/live "${AUTH[@]}"
[[ $(field .mode) == live && $(field .previous) == test && $(field .changed) == true ]] ||
    mf_fail "switch: $BODY"
expect 200 POST /mode/live "${AUTH[@]}"
[[ $(field .changed) == false && $(field .previous) == live ]] || mf_fail "idempotent: $BODY"
mf_wait_for 5 bash -c "curl -fsS '$MF_API_URL/mode' | grep -q '\"mode\":\"live\"'"
mf_pass "mode switch and idempotency"

# ---- health -------------------------------------------------------------------------------
mf_wait_for 10 bash -c "curl -fsS '$MF_API_URL/health' | jq -e '.status == \"ok\"'"
expect 200 GET /health
jq -e '.components.collectors.alive == 1 and .components.redis.status == "up" and
       .components.postgres.status == "up" and .components.nats.status == "up" and
       .mode == "live"' <<<"$BODY" >/dev/null || mf_fail "health: $BODY"

# Redis down: degraded, answers from PostgreSQL and says so
mf_stop_redis
mf_wait_for 10 bash -c "curl -sS '$MF_API_URL/health' | jq -e '.status == \"degraded\" and .components.redis.status == \"down\"'"
for kind in average highest lowest; do
    check_stat "$kind" "" BTCUSDT 5m postgres
done
[[ $(($(field .to) % 60000)) -eq 0 && $(($(field .from) % 60000)) -eq 0 ]] ||
    mf_fail "postgres answer not minute-aligned: $BODY"
check_stat average exchange1 ETHUSDT 20m postgres
expect 200 GET /prices/latest/ETHUSDT
[[ $(field .source) == postgres ]] || mf_fail "latest with Redis down: $BODY"
mf_pass "Redis down: degraded, answers from PostgreSQL"

mf_stop_postgres
mf_wait_for 10 bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' '$MF_API_URL/health') == 503 ]]"
expect 503 GET /prices/average/BTCUSDT?period=5m
expect 503 GET /prices/latest/ETHUSDT
expect 200 GET /prices/latest/BTCUSDT # still on the bus map
mf_restart_postgres
mf_restart_redis
mf_redis_cli --pipe <"$MF_TMP/redis.resp" >/dev/null
mf_wait_for 15 bash -c "curl -sS '$MF_API_URL/health' | jq -e '.status == \"ok\"'"
check_stat average "" BTCUSDT 5m redis
mf_pass "health down (503) with both stores gone, ok again when they return"

# ---- slow clients do not hold threads ----------------------------------------------------
python3 - "$MF_API_PORT" <<'PY' || mf_fail "slow clients starved the server"
import socket, sys, time, urllib.request
port = int(sys.argv[1])
slow = []
for _ in range(50):  # more idle half-requests than HTTP threads
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    slow.append(s)
t = time.time()
body = urllib.request.urlopen("http://127.0.0.1:%d/ping" % port, timeout=3).read()
assert b"pong" in body and time.time() - t < 1.0
time.sleep(3.5)  # api.timeout_s = 2: the server closes them
s = slow[0]
s.settimeout(2)
assert s.recv(100) == b""
PY
mf_pass "slow clients are timed out without blocking others"

# ---- bearer token on POST /mode (restart with a token) ------------------------------------
mf_stop_bg api
[[ $(mf_exit_code api) -eq 0 ]] || mf_fail "api exit code $(mf_exit_code api) on SIGTERM"
export MARKETFLOW_API_MODE_TOKEN=s3cr3t-token
mf_start_bg api "$API" --port "$MF_API_PORT"
mf_wait_for 20 curl -fsS "$MF_API_URL/ping"
expect 200 GET /mode
[[ $(field .mode) == live ]] || mf_fail "mode not read back from the CONTROL stream: $BODY"
expect 401 POST /mode/test
expect 401 POST /mode/test -H 'Authorization: Bearer wrong'
expect 200 POST /mode/test -H 'Authorization: Bearer s3cr3t-token'
[[ $(field .changed) == true ]] || mf_fail "token switch: $BODY"
grep -q s3cr3t "$MF_TMP/api.log" && mf_fail "the token appears in the log"
mf_pass "bearer token; mode kept in the CONTROL stream; secret never logged"

# ---- core transport: the stored mode is read too; one decoder (mf/control.h) ------------
# The stream holds "test" (the POST above); exchanges.mode says live: the stream must win, as
# in the collector. A duplicate-key message is rejected (the collectors reject it too).
CAT="$BUILD_DIR/tests/tools/mf-cat"
mf_stop_bg api
unset MARKETFLOW_API_MODE_TOKEN
export MARKETFLOW_NATS_TRANSPORT=core MARKETFLOW_EXCHANGES_MODE=live
mf_start_bg api "$API" --port "$MF_API_PORT"
mf_wait_for 20 curl -fsS "$MF_API_URL/ping"
expect 200 GET /mode
[[ $(field .mode) == test ]] || mf_fail "core transport: stored mode not read: $BODY"
"$CAT" pub marketflow.control.mode '{"mode":"test","mode":"live","by":"dup"}'
"$CAT" pub marketflow.control.mode '{"mode":"test","by":"sync"}'
mf_wait_for 5 bash -c "curl -fsS '$MF_API_URL/mode' | jq -e '.by == \"sync\"'"
expect 200 GET /mode
[[ $(field .mode) == test && $(field .previous) == test ]] ||
    mf_fail "duplicate-key control message was not ignored: $BODY"
expect 200 POST /mode/test
[[ $(field .changed) == false ]] || mf_fail "core transport: stored mode not used by POST: $BODY"
mf_pass "core transport: stored mode read at start and by POST; duplicate keys rejected"
