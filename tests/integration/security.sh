#!/usr/bin/env bash
# security: credentials and permissions end to end, against real servers that require them
# (docs/design.md section 15).
#   1. NATS token auth (nats-server --auth), user/password (--user/--pass) and TLS with a CA
#      file (tls:// URL, nats.tls_ca): a service connects and consumes; a wrong token is
#      refused with one clear line and a non-zero exit (retrying would not help).
#   2. The fixture's defaults are the deployments' defaults: Redis refuses a client without
#      the password, PostgreSQL one without the password (no trust line left in pg_hba.conf,
#      over TCP and the Unix socket), for the superuser and the services' role marketflow. The
#      whole stack runs with them: rows and cache are written, the api answers from both.
#   3. The hostile suite: with the stack running, forged ticks, rollups, latest prices, mode
#      switches and heartbeats published by every NATS user that may not publish them are
#      refused by nats-server (a publish violation for that user and subject in its log) and
#      nothing they carry reaches a stream, Redis, PostgreSQL or an answer of the api; the same
#      tick from the one user allowed (the tests' feeder) does get through (the oracle that the
#      path was open). The operator reads every subject and stream and publishes the control
#      subject, nothing else.
#   4. A wrong PostgreSQL or Redis password is refused, logged without the password, retried.
#   5. POST /mode requires the bearer token (401 without it or with a wrong one, 200 with it).
#   6. No secret appears in any log or in --check-config output.
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
mkdir -p "$MF_TMP/own"
chmod 700 "$MF_TMP/own"

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
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$MF_TMP/own/nats.key" \
    -out "$MF_TMP/own/nats.crt" >/dev/null 2>&1 || mf_fail "openssl could not make a cert"
nats_aux nats-tls --tls --tlscert "$MF_TMP/own/nats.crt" --tlskey "$MF_TMP/own/nats.key"
mf_start_bg agg-tls env MARKETFLOW_NATS_URL="tls://127.0.0.1:$AUX_PORT" \
    MARKETFLOW_NATS_TLS_CA="$MF_TMP/own/nats.crt" "$(mf_bin aggregator)"
mf_wait_for 30 grep -q consuming "$MF_TMP/agg-tls.log"
mf_stop_bg agg-tls
mf_stop_bg nats-tls
mf_pass "NATS over TLS with nats.tls_ca"

# ---- 2. Redis and PostgreSQL refuse clients without the password --------------------------
mf_start_nats
mf_start_redis
mf_start_postgres
SECRETS+=("$REDISCLI_AUTH" "$(cat "$MF_SECRETS/postgres-password")"
    "$(cat "$MF_SECRETS/postgres-superuser-password")")
for role in collector aggregator persister api operator feeder; do
    SECRETS+=("$(cat "$MF_SECRETS/nats-password-$role")")
done
[[ $(stat -c %a "$MF_SECRETS") == 700 ]] || mf_fail "the secrets directory is not 0700"
for f in "$MF_SECRETS"/*; do
    [[ $(stat -c %a "$f") == 600 ]] || mf_fail "${f##*/} is not 0600"
done
out=$(env -u REDISCLI_AUTH redis-cli -h 127.0.0.1 -p "$MF_REDIS_PORT" SET x 1 2>&1)
[[ $out == *NOAUTH* ]] || mf_fail "Redis without the password: $out"
out=$(REDISCLI_AUTH="wrong-$REDISCLI_AUTH" redis-cli -h 127.0.0.1 -p "$MF_REDIS_PORT" SET x 1 2>&1)
[[ $out == *WRONGPASS* ]] || mf_fail "Redis with a wrong password: $out"
[[ $(mf_redis_cli SET x 1) == OK ]] || mf_fail "Redis with the password"
grep -Ev '^[[:space:]]*(#|$)' "$MF_PG_DATA/pg_hba.conf" | grep -qw trust &&
    mf_fail "pg_hba.conf still trusts someone: $(grep -w trust "$MF_PG_DATA/pg_hba.conf")"
grep -Ev '^[[:space:]]*(#|$)' "$MF_PG_DATA/pg_hba.conf" | grep -qw scram-sha-256 ||
    mf_fail "pg_hba.conf does not use scram-sha-256"
for user in marketflow postgres; do
    for host in 127.0.0.1 "$MF_TMP/pg"; do
        if env -u PGPASSFILE PGPASSWORD= "$_MF_PSQL" -XAtq -w -h "$host" -p "$MF_PG_PORT" \
            -U "$user" -d marketflow -c 'SELECT 1' >"$MF_TMP/nopw.out" 2>&1; then
            mf_fail "PostgreSQL lets $user in without a password (host $host)"
        fi
        grep -q 'password' "$MF_TMP/nopw.out" || mf_fail "no password refusal: $(cat "$MF_TMP/nopw.out")"
        if env -u PGPASSFILE PGPASSWORD=wrong "$_MF_PSQL" -XAtq -w -h "$host" -p "$MF_PG_PORT" \
            -U "$user" -d marketflow -c 'SELECT 1' >/dev/null 2>&1; then
            mf_fail "PostgreSQL lets $user in with a wrong password (host $host)"
        fi
    done
done
[[ $(mf_psql -c 'SELECT 1') == 1 ]] || mf_fail "PostgreSQL refuses the right password"
[[ $(mf_psql -c "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == f ]] ||
    mf_fail "the services' role marketflow is a superuser"
mf_pass "Redis and PostgreSQL (scram-sha-256, no trust) refuse clients without the password"

export MARKETFLOW_PERSISTER_FLUSH_MS=500 MARKETFLOW_EXCHANGES_MODE=test
mf_feeds 3
mf_setup_api
SECRETS+=("$MF_API_MODE_TOKEN")
mf_start_bg pg "$(mf_bin persister)" --sink postgres
mf_start_bg rd "$(mf_bin persister)" --sink redis
mf_start_bg aggregator "$(mf_bin aggregator)"
mf_wait_for 30 grep -q consuming "$MF_TMP/aggregator.log"
mf_start_bg collector "$(mf_bin collector)"
mf_start_bg api "$(mf_bin api)"
mf_wait_for 30 curl -fsS "$MF_API_URL/ping"
mf_start_bg generator "$(mf_bin generator)" --seed 3
mf_wait_for 40 bash -c "[[ \$(redis-cli -h 127.0.0.1 -p $MF_REDIS_PORT \
    EXISTS mf:latest:exchange1:BTCUSDT) == 1 ]]"
mf_wait_for 40 bash -c "[[ \$(\"$_MF_PSQL\" -XAtq -h 127.0.0.1 -p $MF_PG_PORT -U marketflow \
    -d marketflow -c 'SELECT count(*) FROM aggregated_prices') -gt 0 ]]"
grep -q "postgres connected" "$MF_TMP/pg.log" || mf_fail "persister did not log in to PostgreSQL"
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
mf_pass "the stack with every credential on: persisters write, the api answers from both stores"

# ---- 3. the hostile suite: forged bus messages from users that may not publish them --------
MFCAT="$BUILD_DIR/tests/tools/mf-cat"
[[ -x $MFCAT ]] || mf_fail "mf-cat not built ($MFCAT)"
NATS_LOG=$MF_TMP/nats-server.log
FORGED_LOW=0.00000123      # would become every minimum
FORGED_HIGH=98765432.125   # would become every maximum and the latest price
now=$(date +%s%3N)
forged_tick() { # forged_tick SYMBOL PRICE
    printf '{"exchange":"exchange1","symbol":"%s","price":%s,"ts":%s,"recv_ts":%s}' \
        "$1" "$2" "$now" "$now"
}
FORGED_ROLLUP=$(printf '{"exchange":"exchange1","symbol":"BTCUSDT","window":"1s","start":%s,"count":1,"sum":%s,"min":%s,"min_ts":%s,"max":%s,"max_ts":%s,"open":%s,"open_ts":%s,"close":%s,"close_ts":%s,"producer":"forger","seq":1}' \
    "$((now / 1000 * 1000))" "$FORGED_HIGH" "$FORGED_LOW" "$now" "$FORGED_HIGH" "$now" \
    "$FORGED_LOW" "$now" "$FORGED_HIGH" "$now")
FORGED_MODE='{"mode":"live","at":1,"by":"forger"}'
# forge ROLE SUBJECT PAYLOAD: a core publish as ROLE; nats-server must log the violation.
forge() {
    local role=$1 subject=$2 payload=$3 before
    before=$(grep -c "Publish Violation" "$NATS_LOG" || true)
    mf_as "$role" "$MFCAT" pub "$subject" "$payload" >>"$MF_TMP/forge.out" 2>&1 || true
    mf_wait_for 5 bash -c "(( \$(grep -c 'Publish Violation' '$NATS_LOG') > $before ))"
    grep "Publish Violation" "$NATS_LOG" | tail -n +"$((before + 1))" |
        grep -F "User \"$role\"" | grep -qF "Subject \"$subject\"" ||
        mf_fail "no publish violation logged for $role on $subject: $(tail -3 "$NATS_LOG")"
}
for role in aggregator persister api operator; do
    forge "$role" marketflow.ticks.exchange1.BTCUSDT "$(forged_tick BTCUSDT "$FORGED_LOW")"
done
for role in collector persister api operator feeder; do
    forge "$role" marketflow.rollups.1s.exchange1.BTCUSDT "$FORGED_ROLLUP"
    forge "$role" marketflow.latest.exchange1.BTCUSDT "$(forged_tick BTCUSDT "$FORGED_HIGH")"
done
for role in collector aggregator persister feeder; do
    forge "$role" marketflow.control.mode "$FORGED_MODE"
done
for role in operator feeder collector api; do
    forge "$role" "marketflow.status.persister.forged-$role" \
        '{"service":"persister","instance":"forged","state":"running","ts":'"$now"',"interval_ms":600000}'
done
forge collector marketflow.status.aggregator.forged-collector \
    '{"service":"aggregator","instance":"forged","state":"running","ts":'"$now"',"interval_ms":600000}'
# Nobody may publish into another client's inbox (pull deliveries, PubAcks).
forge api _INBOX.forged "$(forged_tick BTCUSDT "$FORGED_LOW")"
forge operator '$JS.API.STREAM.PURGE.MARKETFLOW_TICKS' ''
forge operator '$JS.API.CONSUMER.DELETE.MARKETFLOW_TICKS.marketflow-aggregator' ''
# The oracle: the same kind of tick from the feeder (allowed to publish ticks) gets through.
mf_as feeder "$MFCAT" pub marketflow.ticks.exchange1.AUTHOKUSDT "$(forged_tick AUTHOKUSDT 4242.5)" ||
    mf_fail "the feeder could not publish a tick"
mf_wait_for 20 bash -c "[[ \$(redis-cli -h 127.0.0.1 -p $MF_REDIS_PORT \
    HGET mf:latest:exchange1:AUTHOKUSDT price) == 4242.5 ]]"
mf_wait_for 20 bash -c "curl -fsS '$MF_API_URL/prices/latest/exchange1/AUTHOKUSDT' |
    jq -e '.price == 4242.5'"
sleep 3 # well past the 1 s windows' grace and the persisters' flush
marker() { grep -c -F -e "$FORGED_LOW" -e "${FORGED_HIGH%.*}" -e forge "$@" || true; }
for stream in MARKETFLOW_TICKS MARKETFLOW_ROLLUPS MARKETFLOW_CONTROL; do
    "$MFCAT" stream "$stream" >"$MF_TMP/stream-$stream.out" || mf_fail "cannot read $stream"
    [[ $(marker "$MF_TMP/stream-$stream.out") == 0 ]] || mf_fail "a forged message is in $stream"
done
grep -q AUTHOKUSDT "$MF_TMP/stream-MARKETFLOW_TICKS.out" || mf_fail "the feeder's tick is not in the stream"
redis-cli -h 127.0.0.1 -p "$MF_REDIS_PORT" --no-auth-warning EVAL "
    local out = {}
    for _, k in ipairs(redis.call('KEYS', '*')) do
        local t = redis.call('TYPE', k).ok
        local v
        if t == 'hash' then v = redis.call('HGETALL', k)
        elseif t == 'zset' then v = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
        elseif t == 'list' then v = redis.call('LRANGE', k, 0, -1)
        elseif t == 'string' then v = {redis.call('GET', k)}
        else v = {} end
        out[#out + 1] = k .. ' ' .. table.concat(v, ' ')
    end
    return out" 0 >"$MF_TMP/redis-dump.out"
[[ -s $MF_TMP/redis-dump.out ]] || mf_fail "empty Redis dump"
[[ $(marker "$MF_TMP/redis-dump.out") == 0 ]] || mf_fail "a forged value is in Redis: $(marker -m3 "$MF_TMP/redis-dump.out")"
[[ $(mf_psql -c "SELECT count(*) FROM aggregated_prices WHERE min_price < 0.001 OR
    max_price > 1e7") == 0 ]] || mf_fail "a forged value is in PostgreSQL"
for path in /prices/latest/BTCUSDT /prices/latest/exchange1/BTCUSDT "/prices/lowest/BTCUSDT?period=1m" \
    "/prices/highest/BTCUSDT?period=1m" "/prices/lowest/exchange1/BTCUSDT?period=1m" \
    "/prices/highest/exchange1/BTCUSDT?period=1m" /health /mode; do
    curl -sS "$MF_API_URL$path" >"$MF_TMP/answer.out"
    [[ $(marker "$MF_TMP/answer.out") == 0 ]] || mf_fail "a forged value in $path: $(cat "$MF_TMP/answer.out")"
done
curl -sS "$MF_API_URL/mode" | jq -e '.mode == "test"' >/dev/null || mf_fail "a forged mode switch took"
curl -sS "$MF_API_URL/health" | jq -e '.components.persisters.alive == 2 and
    .components.aggregators.alive == 1' >/dev/null ||
    mf_fail "forged heartbeats counted: $(curl -sS "$MF_API_URL/health")"
mf_pass "forged ticks, rollups, latest, control, status, inbox and API publishes: refused, nothing stored or answered"

# The operator reads everything (core subjects, streams) and publishes the control subject.
# With the subject on each line: '>' also carries headers-only messages (the pull consumers'
# status replies on _INBOX), whose payload line alone would be empty.
"$MFCAT" sub '>' --count 5 --timeout-ms 15000 --with-subject >"$MF_TMP/op-sub.out" ||
    mf_fail "operator sub"
[[ $(grep -c . "$MF_TMP/op-sub.out") == 5 ]] ||
    mf_fail "the operator does not read >: $(head -c 600 "$MF_TMP/op-sub.out")"
grep -q . "$MF_TMP/stream-MARKETFLOW_ROLLUPS.out" || mf_fail "the operator cannot read ROLLUPS"
before=$(grep -c "Violation" "$NATS_LOG" || true)
"$MFCAT" pub marketflow.control.mode '{"mode":"test","at":5,"by":"operator"}' --js ||
    mf_fail "the operator cannot publish the control subject"
"$MFCAT" stream MARKETFLOW_CONTROL | grep -q '"by":"operator"' || mf_fail "operator's mode not stored"
[[ $(grep -c "Violation" "$NATS_LOG" || true) == "$before" ]] ||
    mf_fail "reading or publishing control as the operator hit a violation: $(tail -3 "$NATS_LOG")"
mf_pass "the operator reads every subject and stream, publishes the control subject only"

# ---- 4. wrong passwords ---------------------------------------------------------------------
# A wrong password file: refused, logged, retried, never crashes, password not logged.
printf 'not-%s\n' "$PG_PASS" >"$MF_TMP/own/pg-wrong"
chmod 600 "$MF_TMP/own/pg-wrong"
mf_start_bg pg-wrong env MARKETFLOW_POSTGRES_PASSWORD_FILE="$MF_TMP/own/pg-wrong" \
    MARKETFLOW_LOG_INSTANCE=pg-wrong "$(mf_bin persister)" --sink postgres
mf_wait_for 20 grep -q "password authentication failed" "$MF_TMP/pg-wrong.log"
mf_running pg-wrong || mf_fail "persister exited on a wrong PostgreSQL password"
mf_stop_bg pg-wrong
mf_start_bg rd-wrong env MARKETFLOW_REDIS_PASSWORD="not-$REDISCLI_AUTH" \
    MARKETFLOW_LOG_INSTANCE=rd-wrong "$(mf_bin persister)" --sink redis
mf_wait_for 20 grep -Eqi "WRONGPASS|auth" "$MF_TMP/rd-wrong.log"
mf_running rd-wrong || mf_fail "persister exited on a wrong Redis password"
mf_stop_bg rd-wrong
mf_pass "wrong PostgreSQL / Redis passwords: refused, logged, retried"

# A Redis 6+ ACL user (redis.user): the connector sends AUTH <user> <password>.
REDIS_USER_PASS="pw-$RANDOM$RANDOM-aclUSER"
SECRETS+=("$REDIS_USER_PASS")
redis-cli -h 127.0.0.1 -p "$MF_REDIS_PORT" --no-auth-warning ACL SETUSER mfcache on \
    ">$REDIS_USER_PASS" '~*' '&*' '+@all' >/dev/null ||
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

# ---- 5. POST /mode and its bearer token (the fixture sets one, as every deployment) ---------
MODE_TOKEN=$MF_API_MODE_TOKEN
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$MF_API_URL/mode/test")
[[ $code == 401 ]] || mf_fail "POST /mode without token: $code"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer wrong" \
    "$MF_API_URL/mode/test")
[[ $code == 401 ]] || mf_fail "POST /mode with a wrong token: $code"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $MODE_TOKEN" "$MF_API_URL/mode/test")
[[ $code == 200 ]] || mf_fail "POST /mode with the token: $code"
mf_pass "POST /mode needs the bearer token"

# ---- 6. secrets never logged ---------------------------------------------------------------
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
