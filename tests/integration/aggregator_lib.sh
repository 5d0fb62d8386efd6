# shellcheck shell=bash
# aggregator_lib.sh: helpers shared by the aggregator integration tests (source after lib.sh).
MFCAT=${MFCAT:-"$BUILD_DIR/tests/tools/mf-cat"}
ORACLE="$SOURCE_DIR/tests/integration/oracle.py"
[[ -x $MFCAT ]] || mf_fail "mf-cat not built ($MFCAT)"

agg_now_ms() {
    local us=${EPOCHREALTIME/./}
    printf '%s\n' "$((us / 1000))"
}

# agg_start NAME [ENV=VALUE...]: starts an aggregator instance named NAME (its producer).
agg_start() {
    local name=$1
    shift
    mf_start_bg "$name" env MARKETFLOW_LOG_INSTANCE="$name" "$@" "$(mf_bin aggregator)"
}

# agg_wait_consuming NAME: waits until the instance subscribed.
agg_wait_consuming() {
    mf_wait_for 30 grep -q 'consuming' "$MF_TMP/$1.log"
}

# agg_consumer_state: prints "num_pending num_ack_pending" of the aggregators' consumer.
agg_consumer_state() {
    curl -fsS "$MF_NATS_MONITOR_URL/jsz?consumers=true" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for a in d.get("account_details", []):
    for s in a.get("stream_detail", []):
        for c in s.get("consumer_detail") or []:
            if c["name"] == "marketflow-aggregator":
                print(c["num_pending"], c["num_ack_pending"])
                sys.exit(0)
sys.exit(1)'
}

# agg_consumer_idle: true when every stored tick was delivered and acked.
agg_consumer_idle() {
    [[ $(agg_consumer_state) == "0 0" ]]
}

# agg_pub_ticks FILE [--core]: publishes bus tick JSON lines.
agg_pub_ticks() {
    local f=$1
    shift
    mf_as feeder "$MFCAT" pub-ticks "$@" <"$f" || mf_fail "mf-cat pub-ticks $f failed"
}

# agg_stop_all NAME...: SIGTERM, and each must exit 0.
agg_stop_all() {
    local n rc
    for n in "$@"; do
        mf_stop_bg "$n"
        rc=$(mf_exit_code "$n")
        [[ $rc == 0 ]] || mf_fail "$n exited with $rc after SIGTERM"
    done
}

# agg_oracle_check [--no-dedupe] ROLLUPS TICKFILE...: exact comparison of the merged rollups
# with the oracle. Ticks repeating a Nats-Msg-Id count once unless --no-dedupe (core NATS).
agg_oracle_check() {
    local dedupe=--dedupe f
    if [[ $1 == --no-dedupe ]]; then
        dedupe=""
        shift
    fi
    local rollups=$1
    shift
    local -a args=()
    for f in "$@"; do args+=(--ticks "$f"); done
    [[ -n $dedupe ]] && args+=("$dedupe")
    python3 "$ORACLE" check --rollups "$rollups" "${args[@]}" >"$MF_TMP/oracle.out" ||
        mf_fail "oracle mismatch: $(head -c 3000 "$MF_TMP/oracle.out")"
    cat "$MF_TMP/oracle.out"
}

# agg_sub_bg NAME SUBJECT: records every message on SUBJECT into $MF_TMP/NAME.jsonl until stopped.
agg_sub_bg() {
    mf_start_bg "$1" bash -c 'exec "$0" sub "$1" --timeout-ms 600000 >"$2"' "$MFCAT" "$2" \
        "$MF_TMP/$1.jsonl"
    sleep 0.5 # the subscription must exist before anything is published
}
