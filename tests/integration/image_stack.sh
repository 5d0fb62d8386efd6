#!/usr/bin/env bash
# image_stack: every marketflow service from the container image (deploy/image/build.sh),
# as the Kubernetes manifests run them: user 10001, read-only root file system, no
# capabilities; in test mode, against nats-server, Redis and PostgreSQL on the host (free
# loopback ports, host network, nothing on a bridge). The generator writes its line log to a
# mounted directory; every price route is checked against the oracle over that log for
# periods 1s, 5s (Redis), 1m, 3m (PostgreSQL minutes + Redis tail; the cache keeps 60 s), and
# the latest price comes from the bus. Every container answers /healthz, runs as 10001 and
# cannot write its root; SIGTERM stops each with status 0. Not a CTest test: scripts/test.sh
# runs it after the suite (it needs podman and root), see tests/integration/image_lib.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/api_lib.sh"
source "$(dirname "$0")/image_lib.sh"
img_prepare

mf_start_nats
mf_start_postgres
mf_start_redis
mf_feeds 3
mf_setup_api
export MARKETFLOW_EXCHANGES_MODE=test MARKETFLOW_REDIS_RETENTION_S=60
export MARKETFLOW_PERSISTER_FLUSH_MS=500 MARKETFLOW_API_SETTLE_MS=3000
mkdir -p "$MF_TMP/gen"
chown 10001:10001 "$MF_TMP/gen"

img_run pg -- marketflow-persister --sink postgres
img_run rd -- marketflow-persister --sink redis
img_run aggregator -- marketflow-aggregator
mf_wait_for 60 grep -q consuming "$MF_TMP/aggregator.log"
img_run collector -- marketflow-collector
img_run api -- marketflow-api
mf_wait_for 30 curl -fsS "$MF_API_URL/ping"
img_run generator -v "$MF_TMP/gen:/var/log/marketflow" -- marketflow-generator --seed 7 \
    --extended --log /var/log/marketflow/sent.lines
mf_wait_for 60 bash -c "curl -sS '$MF_API_URL/health' | jq -e '.status == \"ok\"'"
services=(pg rd aggregator collector api generator)
for s in "${services[@]}"; do
    mf_wait_for 30 img_healthz "$s"
    img_check_hardened "$IMG_PREFIX-$s"
done
mf_pass "six containers ready (/healthz), user 10001, read-only root; health ok"

TICKS=$MF_TMP/ticks.jsonl
# The line log is flushed every 200 ms: wait for that, then take the ticks it holds.
img_ticks() {
    sleep 0.5
    $API_ORACLE ticks "$MF_TMP/gen/sent.lines" >"$TICKS"
}
sleep 75 # more than the retention, and at least one whole minute in PostgreSQL
for period in 1s 5s; do mf_api_check_all "$period" redis "$TICKS" img_ticks; done
for period in 1m 3m; do mf_api_check_all "$period" 'redis\+postgres|postgres' "$TICKS" img_ticks; done
mf_api_req /prices/latest/BTCUSDT
[[ $(jq -r .source <<<"$BODY") == bus ]] || mf_fail "latest source: $BODY"
mf_pass "REST answers equal the oracle over the generator's line log (1s 5s 1m 3m)"

for s in generator collector api aggregator pg rd; do
    mf_stop_bg "$s"
    [[ $(mf_exit_code "$s") == 0 ]] || mf_fail "$s exit code $(mf_exit_code "$s")"
done
mf_pass "every container stopped by SIGTERM with status 0"
