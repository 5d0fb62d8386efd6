#!/usr/bin/env bash
# common_nats.sh: the NATS helper of common/ against a real nats-server, through mf-cat:
# connect retries until the server comes, streams are created idempotently with the settings
# of docs/design.md section 4, CONTROL keeps one message per subject, Nats-Msg-Id dedupes ticks.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CAT="$BUILD_DIR/tests/tools/mf-cat"
[[ -x $CAT ]] || mf_fail "mf-cat not built at $CAT"

# This tests the helper itself, on subjects and a prefix (mf-alt) outside the bus contract:
# a nats-server without the role permissions (security.sh tests those).
export MF_NATS_AUTH=0

# 1. A client started while the server is away connects once it appears.
mf_start_nats
mf_stop_nats
mf_start_bg sub "$CAT" sub marketflow.hello --count 1
sleep 1.5
mf_running sub || mf_fail "client gave up while NATS was away"
mf_restart_nats
for _ in $(seq 1 100); do
    mf_running sub || break
    "$CAT" pub marketflow.hello world
    sleep 0.2
done
mf_wait_exit sub 10
[[ $(mf_exit_code sub) == 0 ]] || mf_fail "subscriber exited with $(mf_exit_code sub)"
grep -qx world "$MF_TMP/sub.log" || mf_fail "subscriber did not receive the message"

# 2. Streams are created (and re-created idempotently) with the contract's settings.
# (pub-lines creates all three streams; pub only the one of its subject.)
printf '%s\n' 'marketflow.control.mode {"mode":"live","at":1,"by":"test"}' \
    'marketflow.control.mode {"mode":"test","at":2,"by":"test"}' \
    'marketflow.control.mode {"mode":"live","at":3,"by":"test"}' | "$CAT" pub-lines --js
"$CAT" pub marketflow.control.mode '{"mode":"live","at":3,"by":"test"}' --js
jsz=$(curl -fsS "$MF_NATS_MONITOR_URL/jsz?streams=true&config=true")
cfg() { jq -r --arg s "$1" ".account_details[].stream_detail[] | select(.name==\$s) | $2" \
    <<<"$jsz"; }
[[ $(cfg MARKETFLOW_TICKS .config.subjects[0]) == "marketflow.ticks.>" ]] ||
    mf_fail "TICKS subjects: $(cfg MARKETFLOW_TICKS .config.subjects)"
[[ $(cfg MARKETFLOW_TICKS .config.storage) == file ]] || mf_fail "TICKS storage"
[[ $(cfg MARKETFLOW_TICKS .config.duplicate_window) == 30000000000 ]] ||
    mf_fail "TICKS duplicate window: $(cfg MARKETFLOW_TICKS .config.duplicate_window)"
[[ $(cfg MARKETFLOW_TICKS .config.max_age) == 900000000000 ]] || mf_fail "TICKS max age"
[[ $(cfg MARKETFLOW_ROLLUPS .config.max_age) == 3600000000000 ]] || mf_fail "ROLLUPS max age"
[[ $(cfg MARKETFLOW_CONTROL .config.max_msgs_per_subject) == 1 ]] ||
    mf_fail "CONTROL keeps $(cfg MARKETFLOW_CONTROL .config.max_msgs_per_subject) per subject"
[[ $(cfg MARKETFLOW_CONTROL .state.messages) == 1 ]] || mf_fail "CONTROL holds more than one"
last=$("$CAT" stream MARKETFLOW_CONTROL --timeout-ms 3000)
[[ $(jq -r .at <<<"$last") == 3 ]] || mf_fail "CONTROL does not hold the latest mode: $last"

# 3. The same tick published twice (as a feed repeating a line would) is stored once.
now=$(($(date +%s%3N)))
tick="{\"exchange\":\"exchange1\",\"symbol\":\"BTCUSDT\",\"price\":100143.27730216153,\"ts\":$now,\"recv_ts\":$now}"
printf '%s\n%s\n' "$tick" "$tick" | "$CAT" pub-ticks
printf '%s\n' "$tick" | "$CAT" pub-ticks
stored=$("$CAT" stream MARKETFLOW_TICKS --timeout-ms 3000)
[[ $(wc -l <<<"$stored") == 1 ]] || mf_fail "duplicate ticks stored: $stored"
[[ $(jq -r .price <<<"$stored") == 100143.27730216153 ]] || mf_fail "price changed: $stored"

# 4. A custom prefix derives its own streams.
MARKETFLOW_NATS_PREFIX=mf-alt "$CAT" pub mf-alt.control.mode '{"mode":"test"}' --js
curl -fsS "$MF_NATS_MONITOR_URL/jsz?streams=true" | jq -e \
    '[.account_details[].stream_detail[].name] | index("MF_ALT_CONTROL") != null' >/dev/null ||
    mf_fail "prefix mf-alt did not get stream MF_ALT_CONTROL"

mf_pass "NATS helper: retry, streams, CONTROL, dedupe, prefix"
