#!/usr/bin/env bash
# image_compose: deploy/compose/compose.yaml run with podman-compose on the host network, the
# whole stack in containers (through deploy/compose/podman-compose-hostnet, which makes
# Debian's podman-compose 1.0.3 honour network_mode: host): NATS, Redis and PostgreSQL from the stand-in server image
# (deploy/image/servers.Dockerfile; no registry here), the generator, collector, aggregator,
# both persisters and the api from the marketflow image, on free loopback ports, with
# credentials generated as docs/deploy.md says (deploy/mf-credentials DIR, then --env-file
# DIR/compose.env). Every health check of the compose file passes (run by hand: podman only
# schedules them under systemd); the marketflow containers run as 10001 with a read-only root,
# each as the NATS user of its role; POST /mode needs the api token, Redis its password,
# NATS a user (an operator check reads the stream of ticks); every price route equals the oracle
# over the generator's line log (1s, 5s from Redis; 1m, 3m from PostgreSQL + Redis); `stop`
# ends each marketflow service with status 0, and `down -v` leaves nothing behind. Run by
# scripts/test.sh after the suite, like image_stack.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/api_lib.sh"
source "$(dirname "$0")/image_lib.sh"
command -v podman-compose >/dev/null || bash "$SOURCE_DIR/scripts/install-deps.sh" --image
img_prepare --servers

for v in NATS NATS_MONITOR REDIS POSTGRES API FEED1 FEED2 FEED3 GENERATOR_METRICS \
    COLLECTOR_METRICS AGGREGATOR_METRICS PERSISTER_POSTGRES_METRICS PERSISTER_REDIS_METRICS \
    API_METRICS; do
    export "MF_${v}_PORT=$(mf_free_port)"
done
export MF_NATS_IMAGE=localhost/marketflow-servers:dev MF_REDIS_IMAGE=localhost/marketflow-servers:dev
export MF_POSTGRES_IMAGE=localhost/marketflow-servers:dev MF_IMAGE MF_REDIS_RETENTION_S=60
export MF_API_URL="http://127.0.0.1:$MF_API_PORT"
# The credentials, as a user makes them; the test reads them too, to talk to the servers.
secrets=$MF_TMP/compose-secrets
"$SOURCE_DIR/deploy/mf-credentials" "$secrets" || mf_fail "deploy/mf-credentials failed"
# shellcheck source=/dev/null
source "$secrets/compose.env" # not exported: compose gets them from --env-file alone
img_genlog_dir

# The test's additions: the generator's line log in a mounted directory, faster flushes, and
# the owner label that lets a later test remove what a killed one left.
project=$IMG_PREFIX # the watchdog of image_lib.sh knows its volumes by this prefix
services=(nats redis postgres generator collector aggregator persister-postgres
    persister-redis api)
mf_services=(generator collector aggregator persister-postgres persister-redis api)
declare -A extra=(
    [generator]="    environment:
      MARKETFLOW_GENERATOR_SEED: \"7\"
      MARKETFLOW_GENERATOR_LOG: /var/log/marketflow/sent.lines
    volumes:
      - $MF_TMP/gen:/var/log/marketflow"
    [persister-postgres]="    environment: {MARKETFLOW_PERSISTER_FLUSH_MS: \"500\"}"
    [persister-redis]="    environment: {MARKETFLOW_PERSISTER_FLUSH_MS: \"500\"}"
    [api]="    environment: {MARKETFLOW_API_SETTLE_MS: \"3000\"}"
)
{
    echo "services:"
    for s in "${services[@]}"; do
        printf '  %s:\n    labels:\n      - %s=%s\n' "$s" "$IMG_LABEL" "$IMG_OWNER"
        [[ -z ${extra[$s]:-} ]] || printf '%s\n' "${extra[$s]}"
    done
} >"$MF_TMP/compose.test.yaml"
compose() {
    "$SOURCE_DIR/deploy/compose/podman-compose-hostnet" --env-file "$secrets/compose.env" \
        -p "$project" -f "$SOURCE_DIR/deploy/compose/compose.yaml" \
        -f "$MF_TMP/compose.test.yaml" "$@" \
        >>"$MF_TMP/compose.out" 2>&1
}
ctr() { printf '%s_%s_1' "$project" "$1"; }
# Cleanup: the project's containers and volumes, whatever happened.
compose_down() {
    compose down -v -t 5 || true
    podman volume rm -f "${project}_nats-data" "${project}_redis-data" \
        "${project}_postgres-data" >/dev/null 2>&1 || true
}
mf_on_exit compose_down
for s in "${services[@]}"; do printf '%s\n' "$(ctr "$s")" >>"$MF_TMP/.mf/containers"; done

compose up -d || mf_fail "podman-compose up failed: $(tail -n 20 "$MF_TMP/compose.out")"
healthy() { podman healthcheck run "$(ctr "$1")"; }
# nats_answer [USER]: the NATS server's answer to CONNECT (as USER, with the password in
# $NATS_PASS; no user without USER), then PING: PONG, or the error.
nats_answer() {
    python3 - "$MF_NATS_PORT" "$@" <<'PY'
import json, os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
f = s.makefile("rwb")
f.readline()  # INFO
opts = {"verbose": False, "pedantic": False}
if len(sys.argv) > 2:
    opts.update(user=sys.argv[2], **{"pass": os.environ["NATS_PASS"]})
f.write(b"CONNECT " + json.dumps(opts).encode() + b"\r\nPING\r\n")
f.flush()
print(f.readline().decode().strip())
PY
}
for s in "${services[@]}"; do
    mf_wait_for 90 healthy "$s"
done
mf_wait_for 60 bash -c "curl -sS '$MF_API_URL/health' | jq -e '.status == \"ok\"'"
declare -A nats_user=([generator]="" [collector]=collector [aggregator]=aggregator
    [persister-postgres]=persister [persister-redis]=persister [api]=api)
for s in "${mf_services[@]}"; do
    img_check_hardened "$(ctr "$s")"
    user=$(podman exec "$(ctr "$s")" printenv MARKETFLOW_NATS_USER) || user=""
    [[ $user == "${nats_user[$s]}" ]] || mf_fail "$s: NATS user '$user'"
done
mf_pass "compose up: nine containers healthy by their own checks, services as 10001 read-only, each its role's NATS user"

code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$MF_API_URL/mode/test")
[[ $code == 401 || $code == 403 ]] || mf_fail "POST /mode/test without the token -> $code"
BODY=$(curl -sS -X POST -H "Authorization: Bearer $MF_API_MODE_TOKEN" "$MF_API_URL/mode/test")
jq -e '.mode == "test"' <<<"$BODY" >/dev/null || mf_fail "POST /mode/test with the token: $BODY"
[[ $(podman exec "$(ctr redis)" env -u REDISCLI_AUTH redis-cli -h 127.0.0.1 \
    -p "$MF_REDIS_PORT" --no-auth-warning ping 2>&1) == *NOAUTH* ]] ||
    mf_fail "Redis answers without its password"
[[ $(nats_answer) == *"Authorization Violation"* ]] || mf_fail "NATS accepts a client without a user"
[[ $(NATS_PASS=$MF_NATS_PASSWORD_COLLECTOR nats_answer collector) == PONG ]] ||
    mf_fail "NATS refuses the collector's user"
[[ $(NATS_PASS=$MF_NATS_PASSWORD_API nats_answer collector) == *"Authorization Violation"* ]] ||
    mf_fail "NATS accepts the collector's user with another role's password"
mf_pass "credentials from deploy/mf-credentials: the api mode token, the Redis password and a NATS user are required"

img_check_prices

compose stop -t 30 || mf_fail "podman-compose stop failed"
for s in "${mf_services[@]}"; do
    rc=$(podman inspect --format '{{.State.ExitCode}}' "$(ctr "$s")")
    [[ $rc == 0 ]] || mf_fail "$s exited with $rc: $(podman logs --tail 5 "$(ctr "$s")" 2>&1)"
done
compose_down
[[ -z $(podman ps -a -q --filter "label=io.podman.compose.project=$project") ]] ||
    mf_fail "containers left after down"
[[ -z $(podman volume ls -q --filter "label=io.podman.compose.project=$project") ]] ||
    mf_fail "volumes left after down"
mf_pass "stop: every service exited 0; down -v removed containers and volumes"
