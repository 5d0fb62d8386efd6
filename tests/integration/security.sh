#!/usr/bin/env bash
# security: credentials end to end, against real servers that require them.
#   1. NATS token auth (nats-server --auth), user/password (--user/--pass) and TLS with a CA
#      file (tls:// URL, nats.tls_ca): a service connects and consumes; a wrong token is
#      refused with one clear line and a non-zero exit (retrying would not help).
#   2. The whole stack with Redis AUTH (redis-server --requirepass; redis.password in the
#      persister's Redis sink and the api's Redis pool) and PostgreSQL password auth
#      (scram-sha-256 for role mfapp; postgres.password_file, as a Kubernetes Secret mounts
#      it): rows and cache are written, the api answers from Redis and from PostgreSQL.
#      A wrong password file is refused and logged, without the password.
#   3. POST /mode requires the bearer token when api.mode_token is set (401 / 200).
#   4. No secret appears in any log or in --check-config output.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
for svc in generator collector aggregator persister api; do
    mf_bin "$svc" >/dev/null || mf_fail "marketflow-$svc not built"
done
command -v openssl >/dev/null || mf_fail "openssl is needed for the TLS check"

NATS_TOKEN="tok-$RANDOM$RANDOM-natsTOKEN"
NATS_PASS="pw-$RANDOM$RANDOM-natsPASS"
REDIS_PASS="pw-$RANDOM$RANDOM-redisPASS"
PG_PASS="pw-$RANDOM$RANDOM-pgPASS"
MODE_TOKEN="tok-$RANDOM$RANDOM-modeTOKEN"
SECRETS=("$NATS_TOKEN" "$NATS_PASS" "$REDIS_PASS" "$PG_PASS" "$MODE_TOKEN")
mkdir -p "$MF_TMP/secrets"
chmod 700 "$MF_TMP/secrets"

# nats_aux NAME ARGS...: an extra nats-server (JetStream) on a free port; sets AUX_PORT.
nats_aux() {
    local name=$1
    shift
    AUX_PORT=$(mf_free_port)
    mkdir -p "$MF_TMP/$name"
    mf_start_bg "$name" nats-server -a 127.0.0.1 -p "$AUX_PORT" -js -sd "$MF_TMP/$name" "$@"
    mf_wait_for 20 _mf_tcp_open "$AUX_PORT"
}

# ---- 1. NATS auth and TLS ------------------------------------------------------------------
nats_aux nats-token --auth "$NATS_TOKEN"
mf_start_bg agg-token env MARKETFLOW_NATS_URL="nats://127.0.0.1:$AUX_PORT" \
    MARKETFLOW_NATS_TOKEN="$NATS_TOKEN" "$(mf_bin aggregator)"
mf_wait_for 30 grep -q consuming "$MF_TMP/agg-token.log"
mf_stop_bg agg-token
mf_start_bg agg-badtoken env MARKETFLOW_NATS_URL="nats://127.0.0.1:$AUX_PORT" \
    MARKETFLOW_NATS_TOKEN="wrong-$NATS_TOKEN" "$(mf_bin aggregator)"
mf_wait_exit agg-badtoken 20
[[ $(mf_exit_code agg-badtoken) != 0 ]] || mf_fail "a wrong NATS token was accepted"
grep -qi "author" "$MF_TMP/agg-badtoken.log" || mf_fail "no authorization error logged"
mf_stop_bg nats-token
mf_pass "NATS token: accepted when right, refused with one line when wrong"

nats_aux nats-user --user mfuser --pass "$NATS_PASS"
mf_start_bg agg-user env MARKETFLOW_NATS_URL="nats://127.0.0.1:$AUX_PORT" \
    MARKETFLOW_NATS_USER=mfuser MARKETFLOW_NATS_PASSWORD="$NATS_PASS" "$(mf_bin aggregator)"
mf_wait_for 30 grep -q consuming "$MF_TMP/agg-user.log"
mf_stop_bg agg-user
mf_stop_bg nats-user
mf_pass "NATS user/password"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$MF_TMP/secrets/nats.key" \
    -out "$MF_TMP/secrets/nats.crt" >/dev/null 2>&1 || mf_fail "openssl could not make a cert"
nats_aux nats-tls --tls --tlscert "$MF_TMP/secrets/nats.crt" --tlskey "$MF_TMP/secrets/nats.key"
mf_start_bg agg-tls env MARKETFLOW_NATS_URL="tls://127.0.0.1:$AUX_PORT" \
    MARKETFLOW_NATS_TLS_CA="$MF_TMP/secrets/nats.crt" "$(mf_bin aggregator)"
mf_wait_for 30 grep -q consuming "$MF_TMP/agg-tls.log"
mf_stop_bg agg-tls
mf_stop_bg nats-tls
mf_pass "NATS over TLS with nats.tls_ca"

# ---- 2. the stack with Redis AUTH and PostgreSQL password auth -----------------------------
mf_start_nats
mf_start_postgres
mf_psql -c "CREATE ROLE mfapp LOGIN PASSWORD '$PG_PASS'" \
    -c "ALTER DATABASE marketflow OWNER TO mfapp" >/dev/null
# Password auth for mfapp over TCP; the fixture's own superuser connections stay trusted.
hba="$MF_PG_DATA/pg_hba.conf"
{ echo "host all mfapp 127.0.0.1/32 scram-sha-256"; cat "$hba"; } >"$hba.new"
cat "$hba.new" >"$hba"
mf_psql -c "SELECT pg_reload_conf()" >/dev/null
PGPASSWORD=wrong "$_MF_PSQL" -XAtq -h 127.0.0.1 -p "$MF_PG_PORT" -U mfapp -d marketflow \
    -c 'SELECT 1' >/dev/null 2>&1 && mf_fail "PostgreSQL does not require the password"
printf '%s\n' "$PG_PASS" >"$MF_TMP/secrets/pg-password"
chmod 600 "$MF_TMP/secrets/pg-password"

REDIS_AUTH_PORT=$(mf_free_port)
mkdir -p "$MF_TMP/redis-auth"
mf_start_bg redis-auth redis-server --port "$REDIS_AUTH_PORT" --bind 127.0.0.1 --save '' \
    --appendonly no --dir "$MF_TMP/redis-auth" --requirepass "$REDIS_PASS"
mf_wait_for 20 _mf_tcp_open "$REDIS_AUTH_PORT"
rcli() { REDISCLI_AUTH="$REDIS_PASS" redis-cli -h 127.0.0.1 -p "$REDIS_AUTH_PORT" "$@"; }
[[ $(redis-cli -h 127.0.0.1 -p "$REDIS_AUTH_PORT" SET x 1 2>&1) == *NOAUTH* ]] ||
    mf_fail "Redis does not require AUTH"

export MARKETFLOW_REDIS_PORT=$REDIS_AUTH_PORT MARKETFLOW_REDIS_PASSWORD=$REDIS_PASS
export MARKETFLOW_POSTGRES_USER=mfapp MARKETFLOW_POSTGRES_PASSWORD_FILE="$MF_TMP/secrets/pg-password"
export MARKETFLOW_API_MODE_TOKEN=$MODE_TOKEN MARKETFLOW_PERSISTER_FLUSH_MS=500
export MARKETFLOW_EXCHANGES_MODE=test
mf_feeds 3
mf_setup_api
mf_start_bg pg "$(mf_bin persister)" --sink postgres
mf_start_bg rd "$(mf_bin persister)" --sink redis
mf_start_bg aggregator "$(mf_bin aggregator)"
mf_wait_for 30 grep -q consuming "$MF_TMP/aggregator.log"
mf_start_bg collector "$(mf_bin collector)"
mf_start_bg api "$(mf_bin api)"
mf_wait_for 30 curl -fsS "$MF_API_URL/ping"
mf_start_bg generator "$(mf_bin generator)" --seed 3
mf_wait_for 40 bash -c "[[ \$(REDISCLI_AUTH='$REDIS_PASS' redis-cli -h 127.0.0.1 \
    -p $REDIS_AUTH_PORT EXISTS mf:latest:exchange1:BTCUSDT) == 1 ]]"
mf_wait_for 40 bash -c "[[ \$(\"$_MF_PSQL\" -XAtq -h 127.0.0.1 -p $MF_PG_PORT -U postgres \
    -d marketflow -c 'SELECT count(*) FROM aggregated_prices') -gt 0 ]]"
grep -q "postgres connected" "$MF_TMP/pg.log" || mf_fail "persister did not log in to PostgreSQL"
mf_pass "persister: Redis AUTH and PostgreSQL password_file (scram-sha-256)"

mf_wait_for 30 bash -c "curl -sS '$MF_API_URL/health' | jq -e \
    '.components.redis.status == \"up\" and .components.postgres.status == \"up\"'"
from_redis() {
    BODY=$(curl -sS "$MF_API_URL/prices/average/BTCUSDT?period=1m")
    jq -e '.source == "redis" and .count > 0' <<<"$BODY"
}
mf_wait_for 30 from_redis
mf_psql -c "INSERT INTO aggregated_prices (exchange, pair_name, \"timestamp\", average_price,
    min_price, max_price, tick_count, price_sum, open_price, open_ts, open_id, close_price,
    close_ts, close_id, min_ts, max_ts, volume, notional, updated_at)
    VALUES ('exchange1', 'ZZUSDT', date_trunc('minute', now()) - interval '30 minutes', 2, 1,
    3, 2, 4, 1, 0, -1, 3, 0, -1, 0, 0, 0, 0, now())" >/dev/null
BODY=$(curl -sS "$MF_API_URL/prices/average/exchange1/ZZUSDT?period=2h")
jq -e '.count == 2 and .price == 2' <<<"$BODY" >/dev/null || mf_fail "from PostgreSQL: $BODY"
mf_pass "api: Redis pool with AUTH and PostgreSQL pool with password_file answer"

# A wrong password file: refused, logged, retried, never crashes, password not logged.
printf 'not-%s\n' "$PG_PASS" >"$MF_TMP/secrets/pg-wrong"
mf_start_bg pg-wrong env MARKETFLOW_POSTGRES_PASSWORD_FILE="$MF_TMP/secrets/pg-wrong" \
    MARKETFLOW_LOG_INSTANCE=pg-wrong "$(mf_bin persister)" --sink postgres
mf_wait_for 20 grep -q "password authentication failed" "$MF_TMP/pg-wrong.log"
mf_running pg-wrong || mf_fail "persister exited on a wrong PostgreSQL password"
mf_stop_bg pg-wrong
mf_start_bg rd-wrong env MARKETFLOW_REDIS_PASSWORD="not-$REDIS_PASS" \
    MARKETFLOW_LOG_INSTANCE=rd-wrong "$(mf_bin persister)" --sink redis
mf_wait_for 20 grep -Eqi "WRONGPASS|auth" "$MF_TMP/rd-wrong.log"
mf_running rd-wrong || mf_fail "persister exited on a wrong Redis password"
mf_stop_bg rd-wrong
mf_pass "wrong PostgreSQL / Redis passwords: refused, logged, retried"

# A Redis 6+ ACL user (redis.user): the connector sends AUTH <user> <password>.
REDIS_USER_PASS="pw-$RANDOM$RANDOM-aclUSER"
SECRETS+=("$REDIS_USER_PASS")
rcli ACL SETUSER mfcache on ">$REDIS_USER_PASS" '~*' '&*' '+@all' >/dev/null ||
    mf_fail "ACL SETUSER failed"
mf_start_bg rd-user env MARKETFLOW_REDIS_USER=mfcache MARKETFLOW_REDIS_PASSWORD="$REDIS_USER_PASS" \
    MARKETFLOW_LOG_INSTANCE=rd-user "$(mf_bin persister)" --sink redis
mf_wait_for 20 grep -q "redis connected" "$MF_TMP/rd-user.log"
mf_stop_bg rd-user
mf_start_bg rd-nouser env MARKETFLOW_REDIS_USER=nosuchuser \
    MARKETFLOW_REDIS_PASSWORD="$REDIS_USER_PASS" MARKETFLOW_LOG_INSTANCE=rd-nouser \
    "$(mf_bin persister)" --sink redis
mf_wait_for 20 grep -q "WRONGPASS" "$MF_TMP/rd-nouser.log"
mf_stop_bg rd-nouser
mf_pass "Redis ACL user (redis.user): AUTH <user> <password>; an unknown user is refused"

# ---- 3. POST /mode and its bearer token ----------------------------------------------------
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$MF_API_URL/mode/test")
[[ $code == 401 ]] || mf_fail "POST /mode without token: $code"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer wrong" \
    "$MF_API_URL/mode/test")
[[ $code == 401 ]] || mf_fail "POST /mode with a wrong token: $code"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $MODE_TOKEN" "$MF_API_URL/mode/test")
[[ $code == 200 ]] || mf_fail "POST /mode with the token: $code"
mf_pass "POST /mode needs the bearer token"

# ---- 4. secrets never logged ---------------------------------------------------------------
for svc in generator collector aggregator persister api; do
    MARKETFLOW_NATS_TOKEN=$NATS_TOKEN MARKETFLOW_NATS_PASSWORD=$NATS_PASS \
        MARKETFLOW_POSTGRES_PASSWORD=$PG_PASS "$(mf_bin "$svc")" --check-config \
        >>"$MF_TMP/check-config.out" 2>&1 || true
done
mf_stop_bg generator
for p in collector aggregator pg rd api; do mf_stop_bg "$p"; done
leaks=0
for s in "${SECRETS[@]}"; do
    if grep -l -F -- "$s" "$MF_TMP"/*.log "$MF_TMP/check-config.out" 2>/dev/null; then
        echo "secret ${s:0:8}... found in the files above" >&2
        leaks=1
    fi
done
[[ $leaks == 0 ]] || mf_fail "a secret appears in a log"
grep -q "password = \*\*\*\|password = <set>\|password = (set)" "$MF_TMP/check-config.out" ||
    _mf_log "note: --check-config output does not show a masked password marker"
mf_pass "no secret in $(ls "$MF_TMP"/*.log | wc -l) logs nor in --check-config output"
