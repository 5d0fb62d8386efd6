#!/usr/bin/env bash
# api_wrk.sh: HTTP throughput and latency of marketflow-api, measured with wrk (-t2 -c64,
# --latency) while the whole pipeline ingests the default feed (generator -> collector ->
# aggregator -> persisters). Three routes in the same run:
#   /ping                                a ulfius route that does no work (the ceiling)
#   /prices/latest/BTCUSDT               served from the bus map in memory
#   /prices/average/BTCUSDT?period=5m    the answer cache (one computation per second)
# and, on a second API with the answer cache off (MARKETFLOW_API_ANSWER_CACHE=0), the same
# average route: every request is a miss (ZRANGEBYSCORE + pipelined HMGET, exact merge).
# Prints req/s and p50/p99 per route. Usage: BUILD_DIR=build bench/api_wrk.sh [seconds]
# (DATA_S, default 90: seconds of ingestion before measuring).
set -euo pipefail
SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
export SOURCE_DIR BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build}
source "$SOURCE_DIR/tests/integration/lib.sh"
DUR=${1:-10}
DATA_S=${DATA_S:-90}
command -v wrk >/dev/null || mf_fail "wrk not installed"

mf_start_nats
mf_start_postgres
mf_start_redis
mf_feeds 3
mf_setup_api
export MARKETFLOW_EXCHANGES_MODE=test MARKETFLOW_LOG_LEVEL=warn
mf_start_bg pg "$(mf_bin persister)" --sink postgres
mf_start_bg rd "$(mf_bin persister)" --sink redis
mf_start_bg aggregator "$(mf_bin aggregator)"
mf_start_bg collector "$(mf_bin collector)"
mf_start_bg api "$(mf_bin api)"
NOCACHE_URL="http://127.0.0.1:$(mf_free_port)"
mf_start_bg api_nocache env MARKETFLOW_API_ANSWER_CACHE=0 \
    MARKETFLOW_API_PORT="${NOCACHE_URL##*:}" "$(mf_bin api)"
mf_wait_for 30 curl -fsS "$MF_API_URL/ping"
mf_wait_for 30 curl -fsS "$NOCACHE_URL/ping"
mf_start_bg generator "$(mf_bin generator)"
mf_wait_for 60 curl -fsS "$MF_API_URL/prices/average/BTCUSDT?period=5m"
sleep "$DATA_S"

avg=$(curl -fsS "$MF_API_URL/prices/average/BTCUSDT?period=5m")
echo "pipeline ingesting the default feed (3 exchanges x 5 symbols x 10/s); $DATA_S s of data"
echo "average 5m answer: $avg"
echo "same, cache off:   $(curl -fsS "$NOCACHE_URL/prices/average/BTCUSDT?period=5m")"
printf '%-50s %12s %10s %10s\n' route "req/s" p50 p99
for path in /ping /prices/latest/BTCUSDT '/prices/average/BTCUSDT?period=5m' nocache; do
    url=$MF_API_URL$path
    if [[ $path == nocache ]]; then
        path='/prices/average/BTCUSDT?period=5m (cache off)'
        url="$NOCACHE_URL/prices/average/BTCUSDT?period=5m"
    fi
    out=$(wrk -t2 -c64 -d"${DUR}s" --latency "$url")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    printf '%-50s %12s %10s %10s %s\n' "$path" "$rps" "$p50" "$p99" \
        "${non2xx:+(non-2xx: $non2xx)}"
done
