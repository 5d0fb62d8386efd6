#!/usr/bin/env bash
# common_cli.sh: what every binary promises on its command line (docs/design.md section 8), and the
# lifecycle the common library gives every NATS service: --help exits 0; a bad flag or a bad
# value exits 2 with one clear line; --check-config prints the effective configuration with
# secrets masked; /healthz is 503 until NATS is there and 200 after; a status heartbeat is
# published every 2 s; SIGTERM drains and exits 0.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CAT="$BUILD_DIR/tests/tools/mf-cat"
services=(generator collector aggregator persister api)

expect_one_line_exit2() {
    local name=$1
    shift
    local rc=0 err
    err=$("$@" 2>&1 >/dev/null) || rc=$?
    [[ $rc -eq 2 ]] || mf_fail "$name: '$*' exited $rc, want 2 (stderr: $err)"
    [[ $(printf '%s\n' "$err" | grep -c .) -eq 1 ]] || mf_fail "$name: want one line, got: $err"
}

for svc in "${services[@]}"; do
    bin=$(mf_bin "$svc")
    [[ -x $bin ]] || mf_fail "marketflow-$svc is not built"
    out=$("$bin" --help) || mf_fail "$svc --help exited non-zero"
    grep -q "usage: marketflow-$svc" <<<"$out" || mf_fail "$svc --help has no usage line: $out"
    expect_one_line_exit2 "$svc" "$bin" --no-such-flag
    expect_one_line_exit2 "$svc" "$bin" --set nats.transport=pigeon
    expect_one_line_exit2 "$svc" "$bin" --set api.port=99999
    expect_one_line_exit2 "$svc" env MARKETFLOW_AGGREGATOR_GRACE_1S_MS=-5 "$bin"
    printf '[nats]\nurl = nats://x:1\nbogus_key = 1\n' >"$MF_TMP/bad.ini"
    expect_one_line_exit2 "$svc" "$bin" --config "$MF_TMP/bad.ini"
    expect_one_line_exit2 "$svc" "$bin" --config "$MF_TMP/missing.ini"
done

# --check-config: precedence visible, secrets masked.
bin=$(mf_bin aggregator)
printf '[persister]\nbatch_rows = 777\n[redis]\npassword = hunter2\n' >"$MF_TMP/ok.ini"
out=$(MARKETFLOW_REDIS_DB=3 "$bin" --config "$MF_TMP/ok.ini" --set redis.retention_s=900 \
    --check-config)
grep -qx 'batch_rows = 777' <<<"$out" || mf_fail "file value missing from --check-config"
grep -qx 'db = 3' <<<"$out" || mf_fail "env value missing from --check-config"
grep -qx 'retention_s = 900' <<<"$out" || mf_fail "flag value missing from --check-config"
grep -q hunter2 <<<"$out" && mf_fail "--check-config printed a secret"

# Lifecycle of a NATS service: started before NATS exists.
mf_start_nats
mf_stop_nats
mport=$(mf_free_port)
MARKETFLOW_METRICS_PORT=$mport MARKETFLOW_LOG_INSTANCE=agg-cli MARKETFLOW_POSTGRES_PASSWORD=pw1 \
    mf_start_bg aggregator "$bin"
mf_wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$mport/healthz"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/healthz")
[[ $code == 503 ]] || mf_fail "/healthz answered $code without NATS, want 503"
mf_restart_nats
mf_wait_for 20 curl -fsS -o /dev/null "http://127.0.0.1:$mport/healthz"
curl -fsS "http://127.0.0.1:$mport/metrics" | grep -q '^# TYPE marketflow_' ||
    mf_fail "/metrics is not Prometheus text"
"$CAT" sub 'marketflow.status.aggregator.agg-cli' --count 1 --timeout-ms 8000 >"$MF_TMP/st.json"
jq -e '.service == "aggregator" and .instance == "agg-cli" and .state == "running" and
    (.counters | type == "object")' "$MF_TMP/st.json" >/dev/null ||
    mf_fail "bad status heartbeat: $(cat "$MF_TMP/st.json")"
grep -q pw1 "$MF_TMP/aggregator.log" && mf_fail "a secret reached the log"
mf_stop_bg aggregator
[[ $(mf_exit_code aggregator) == 0 ]] || mf_fail "SIGTERM exit code $(mf_exit_code aggregator)"

mf_pass "command lines, config errors, healthz, heartbeat, clean stop"
