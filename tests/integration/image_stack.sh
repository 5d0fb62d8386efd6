#!/usr/bin/env bash
# image_stack: every marketflow service from the container image (deploy/image/build.sh),
# as the Kubernetes manifests run them: user 10001, read-only root file system, no
# capabilities; in test mode, against nats-server, Redis and PostgreSQL on the host (free
# loopback ports, host network, nothing on a bridge). The generator writes its line log to a
# mounted directory; every price route is checked against the oracle over that log for
# periods 1s, 5s (Redis), 1m, 3m (PostgreSQL minutes + Redis tail; the cache keeps 60 s), and
# the latest price comes from the bus. Every container answers /healthz, runs as 10001 and
# cannot write its root; SIGTERM stops each with status 0. The servers are lib.sh's, with
# credentials on: each container gets only the credentials of its role, as the Kubernetes
# manifests give them (its NATS user, the Redis password, the PostgreSQL password as a file
# mounted read-only, the mode token; image_lib.sh, img_secrets), and POST /mode needs the
# token. Not a CTest test: scripts/test.sh
# runs it after the suite (it needs podman and root), see tests/integration/image_lib.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/api_lib.sh"
source "$(dirname "$0")/image_lib.sh"
# shellcheck disable=SC2119 # no build arguments: the marketflow image alone
img_prepare

mf_api_stack_servers
img_genlog_dir

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
declare -A cmds=([pg]="marketflow-persister --sink postgres"
    [rd]="marketflow-persister --sink redis" [aggregator]=marketflow-aggregator
    [collector]=marketflow-collector [api]=marketflow-api [generator]=marketflow-generator)
for s in "${!cmds[@]}"; do
    mf_wait_for 30 img_healthz "$s"
    img_check_hardened "$IMG_PREFIX-$s"
    # shellcheck disable=SC2086 # the command's words
    img_check_secrets "$IMG_PREFIX-$s" ${cmds[$s]}
done
mf_pass "six containers ready (/healthz), user 10001, read-only root, each with only its role's credentials; health ok"

code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$MF_API_URL/mode/test")
[[ $code == 401 ]] || mf_fail "POST /mode/test without the token -> $code"
BODY=$(curl -sS -X POST -H "Authorization: Bearer $MF_API_MODE_TOKEN" "$MF_API_URL/mode/test")
jq -e '.mode == "test"' <<<"$BODY" >/dev/null || mf_fail "POST /mode/test with the token: $BODY"
mf_pass "POST /mode needs the api's mode token"

img_check_prices
mf_api_req /prices/latest/BTCUSDT
[[ $(jq -r .source <<<"$BODY") == bus ]] || mf_fail "latest source: $BODY"
mf_pass "the latest price comes from the bus"

for s in generator collector api aggregator pg rd; do
    mf_stop_bg "$s"
    [[ $(mf_exit_code "$s") == 0 ]] || mf_fail "$s exit code $(mf_exit_code "$s")"
done
mf_pass "every container stopped by SIGTERM with status 0"
