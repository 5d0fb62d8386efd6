#!/usr/bin/env bash
# persister_redis: hand-made 1 s partials -> two replicas of marketflow-persister --sink redis.
# Checks: every merged 1 s bucket equals the oracle (exact expansions, tie rules), latest
# only moves forward, partials older than the retention are not cached and the index is
# trimmed; Redis restarted (data lost) -> the cache is complete again within seconds
# (rebuild from MARKETFLOW_ROLLUPS); Redis down while partials arrive -> nothing lost.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PARTIALS="$SOURCE_DIR/tests/integration/persister_partials.py"
MFCAT="$BUILD_DIR/tests/tools/mf-cat"
[[ -x $MFCAT ]] || mf_fail "mf-cat not built ($MFCAT)"
PERSISTER=$(mf_bin persister) || mf_fail "marketflow-persister not built"

mf_start_nats
mf_start_redis
export MARKETFLOW_PERSISTER_FLUSH_MS=200 MARKETFLOW_PERSISTER_BATCH_ROWS=200
export MARKETFLOW_REDIS_RETENTION_S=600

mf_start_bg rd1 "$PERSISTER" --sink redis --set log.instance=rd1
mf_start_bg rd2 "$PERSISTER" --sink redis --set log.instance=rd2
mf_wait_for 30 grep -q "rebuild done" "$MF_TMP/rd1.log"
mf_wait_for 30 grep -q "rebuild done" "$MF_TMP/rd2.log"

now=$(date +%s%3N)
mkdir -p "$MF_TMP/a" "$MF_TMP/b"
python3 "$PARTIALS" gen 7 "$now" "$MF_TMP/a" >/dev/null
mf_as aggregator "$MFCAT" pub-lines --js <"$MF_TMP/a/partials.txt" || mf_fail "publishing partials failed"
check_a() { python3 "$PARTIALS" check-redis "$MF_TMP/a" "$MF_REDIS_PORT"; }
mf_wait_for 30 check_a
check_a

# Two replicas, duplicates in the input: every seen-set member is one distinct partial.
seen=0
for k in $(mf_redis_cli --scan --pattern 'mf:1s:seen:*'); do
    seen=$((seen + $(mf_redis_cli SCARD "$k")))
done
distinct=$(grep '"count":[1-9]' "$MF_TMP/a/partials.txt" | grep '"window":"1s"' | sort -u | wc -l)
[[ $seen == "$distinct" ]] || mf_fail "seen-sets hold $seen members, want $distinct"

# Latest: moves forward only (core NATS <prefix>.latest.>).
tick() { printf '{"exchange":"exchange9","symbol":"ETHUSDT","price":%s,"ts":%s,"recv_ts":%s}' "$1" "$2" "$2"; }
mf_as aggregator "$MFCAT" pub marketflow.latest.exchange9.ETHUSDT "$(tick 3050.25 $((now + 1000)))"
mf_try_for 10 bash -c "[[ \$(redis-cli -p $MF_REDIS_PORT HGET mf:latest:exchange9:ETHUSDT price) == 3050.25 ]]" || { mf_redis_cli HGETALL mf:latest:exchange9:ETHUSDT; mf_fail "latest not written"; }
mf_as aggregator "$MFCAT" pub marketflow.latest.exchange9.ETHUSDT "$(tick 1.5 $((now - 5000)))"
mf_as aggregator "$MFCAT" pub marketflow.latest.exchange9.ETHUSDT "$(tick 3051.5 $((now + 2000)))"
mf_wait_for 10 bash -c "[[ \$(redis-cli -p $MF_REDIS_PORT HGET mf:latest:exchange9:ETHUSDT price) == 3051.5 ]]"
sleep 1
[[ $(mf_redis_cli HGET mf:latest:exchange9:ETHUSDT ts) == $((now + 2000)) ]] ||
    mf_fail "latest moved backwards"

# Older than the retention: not cached, and the index holds nothing below the window.
old=$(((now / 1000 - 700) * 1000))
mf_as aggregator "$MFCAT" pub marketflow.rollups.1s.exchange1.SOLUSDT "$(printf '{"exchange":"exchange1","symbol":"SOLUSDT","window":"1s","start":%s,"count":1,"sum":200.5,"min":200.5,"min_ts":%s,"max":200.5,"max_ts":%s,"open":200.5,"open_ts":%s,"close":200.5,"close_ts":%s,"producer":"agg-old","seq":1}' "$old" "$old" "$old" "$old" "$old")" --js
sleep 2
[[ $(mf_redis_cli EXISTS "mf:1s:exchange1:SOLUSDT:$old") == 0 ]] || mf_fail "stale bucket cached"
below=$(mf_redis_cli ZCOUNT mf:1s:idx:exchange1:BTCUSDT -inf "($((now - 600000))")
[[ $below == 0 ]] || mf_fail "index not trimmed: $below members below the window"

# Redis restarted: the data is gone; the cache must be complete again within seconds.
t0=$(date +%s%3N)
mf_restart_redis
mf_wait_for 20 check_a
t1=$(date +%s%3N)
echo "cache complete again $((t1 - t0)) ms after the restart began"

# Redis down while partials arrive: held, then written when it returns.
mf_stop_redis
python3 "$PARTIALS" gen 8 "$(date +%s%3N)" "$MF_TMP/b" --exchanges exchange3,exchange4 >/dev/null
mf_as aggregator "$MFCAT" pub-lines --js <"$MF_TMP/b/partials.txt" || mf_fail "publishing partials failed"
sleep 8
mf_restart_redis
check_b() { python3 "$PARTIALS" check-redis "$MF_TMP/b" "$MF_REDIS_PORT"; }
mf_wait_for 30 check_b
mf_wait_for 30 check_a
check_b

mf_stop_bg rd1
[[ $(mf_exit_code rd1) == 0 ]] || mf_fail "rd1 exit code $(mf_exit_code rd1)"
mf_stop_bg rd2
[[ $(mf_exit_code rd2) == 0 ]] || mf_fail "rd2 exit code $(mf_exit_code rd2)"
mf_pass "cache exact, latest monotonic, stale skipped, rebuilt after restart and outage"
