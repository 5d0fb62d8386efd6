#!/usr/bin/env bash
# api_miss.sh: the cost of a period answer that the answer cache does not hold, on a Redis
# seeded with the persister's layout (3 exchanges x 520 one-second buckets of BTCUSDT, no
# pipeline running). wrk at 1 and 64 connections on /prices/average/BTCUSDT?period=5m
# (900 buckets) against marketflow-api with the answer cache off (every request reads
# Redis) and on (one read per second). OLD_API=<path of another marketflow-api> adds that
# binary (e.g. an older build) to the comparison. Prints req/s and p50/p99. The first API
# measured at 64 connections tends to score higher: compare two runs in both orders.
# Usage: BUILD_DIR=build bench/api_miss.sh [seconds]
set -euo pipefail
SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
export SOURCE_DIR BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build}
source "$SOURCE_DIR/tests/integration/lib.sh"
DUR=${1:-8}
command -v wrk >/dev/null || mf_fail "wrk not installed"
mf_start_nats
mf_start_redis
mf_feeds 3
export MARKETFLOW_EXCHANGES_MODE=test MARKETFLOW_LOG_LEVEL=warn
python3 - "$(date +%s)" >"$MF_TMP/seed.resp" <<'PY'
import random, sys
now = int(sys.argv[1])
random.seed(1)
def cmd(*a):
    out = "*%d\r\n" % len(a)
    for x in map(str, a):
        out += "$%d\r\n%s\r\n" % (len(x.encode()), x)
    return out
out = []
for ex in ("exchange1", "exchange2", "exchange3"):
    out.append(cmd("SADD", "mf:exchanges", ex))
    for t in range(now - 400, now + 120):
        st = t * 1000
        p = [100000 + random.random() * 100 for _ in range(10)]
        out.append(cmd("HSET", "mf:1s:%s:BTCUSDT:%d" % (ex, st), "count", 10, "min",
                       "%.17g" % min(p), "min_ts", st + 1, "max", "%.17g" % max(p),
                       "max_ts", st + 2, "sum_x", "%.17g" % sum(p)))
        out.append(cmd("ZADD", "mf:1s:idx:%s:BTCUSDT" % ex, st, st))
sys.stdout.write("".join(out))
PY
redis-cli -p "$MARKETFLOW_REDIS_PORT" --pipe <"$MF_TMP/seed.resp" | tail -1
declare -A PORT
start() { # label cache(0|1) binary
    PORT[$1]=$(mf_free_port)
    mf_start_bg "api_$1" env MARKETFLOW_API_ANSWER_CACHE="$2" MARKETFLOW_API_PORT="${PORT[$1]}" "$3"
}
labels=(cache-off cache-on)
start cache-off 0 "$(mf_bin api)"
start cache-on 1 "$(mf_bin api)"
if [[ -n ${OLD_API:-} ]]; then
    labels=(old "${labels[@]}")
    start old 1 "$OLD_API"
fi
for l in "${labels[@]}"; do
    mf_wait_for 30 curl -fsS "http://127.0.0.1:${PORT[$l]}/prices/average/BTCUSDT?period=5m"
    echo "$l: $(curl -fsS "http://127.0.0.1:${PORT[$l]}/prices/average/BTCUSDT?period=5m")"
done
printf '%-24s %10s %10s %10s\n' "api, connections" "req/s" p50 p99
for c in 1 64; do
    for l in "${labels[@]}"; do
        out=$(wrk -t$((c == 1 ? 1 : 2)) -c$c -d"${DUR}s" --latency \
            "http://127.0.0.1:${PORT[$l]}/prices/average/BTCUSDT?period=5m")
        printf '%-24s %10s %10s %10s\n' "$l, c=$c" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
            "$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")"
    done
done
