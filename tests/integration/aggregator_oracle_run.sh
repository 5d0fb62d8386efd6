# shellcheck shell=bash
# aggregator_oracle_run.sh: body of aggregator_oracle_{1,3}.sh (AGG_INSTANCES set by them).
#
# Ticks near now go through AGG_INSTANCES aggregator processes (2 workers each) over JetStream:
# in order (exchange1), shuffled (exchange2), 800 of them published twice under the same
# Nats-Msg-Id, late ticks for seconds already flushed (both exchanges), a malformed payload and
# a tick an hour too old. Every tick must end acked (after its 1 s rollup's PubAck); after a
# graceful stop, the merge of all partials in MARKETFLOW_ROLLUPS must equal the oracle exactly
# for every (exchange, symbol, 1s|1m, start).
source "$(dirname "${BASH_SOURCE[0]}")/aggregator_lib.sh"

mf_start_nats
export MARKETFLOW_AGGREGATOR_WORKERS=2
names=()
for ((i = 1; i <= AGG_INSTANCES; i++)); do
    names+=("agg$i")
    agg_start "agg$i"
done
for n in "${names[@]}"; do agg_wait_consuming "$n"; done

# Ticks from 2 to 5 s ahead (within max_skew): published before their seconds end, so they
# land in open buckets.
now=$(agg_now_ms)
from=$((now + 2000))
to=$((now + 5000))
python3 "$ORACLE" gen-ticks --seed 11 --count 3000 --from-ms "$from" --to-ms "$to" \
    --exchanges exchange1 --order inorder >"$MF_TMP/inorder.jsonl"
python3 "$ORACLE" gen-ticks --seed 12 --count 3000 --from-ms "$from" --to-ms "$to" \
    --exchanges exchange2 --order shuffled >"$MF_TMP/shuffled.jsonl"
{ head -n 400 "$MF_TMP/inorder.jsonl"; tail -n 400 "$MF_TMP/shuffled.jsonl"; } >"$MF_TMP/dups.jsonl"
agg_pub_ticks "$MF_TMP/inorder.jsonl"
agg_pub_ticks "$MF_TMP/shuffled.jsonl"
agg_pub_ticks "$MF_TMP/dups.jsonl"
mf_as feeder "$MFCAT" pub marketflow.ticks.exchange1.BTCUSDT 'not a tick' --js >/dev/null ||
    mf_fail "publishing a bad payload failed"
old=$((now - 2 * 3600 * 1000))
echo "{\"exchange\":\"exchange3\",\"symbol\":\"BTCUSDT\",\"price\":1.5,\"ts\":$old,\"recv_ts\":$old}" \
    >"$MF_TMP/old.jsonl"
agg_pub_ticks "$MF_TMP/old.jsonl"

# Their seconds are flushed 1.25 s after they end: once past that, these are late
# (corrections).
while (($(agg_now_ms) < to + 1600)); do sleep 0.2; done
python3 "$ORACLE" gen-ticks --seed 13 --count 1000 --from-ms "$from" --to-ms "$to" \
    --exchanges exchange1,exchange2 --order shuffled >"$MF_TMP/late.jsonl"
agg_pub_ticks "$MF_TMP/late.jsonl"

mf_wait_for 60 agg_consumer_idle
# One status per instance: the counters must show what happened.
"$MFCAT" sub 'marketflow.status.aggregator.>' --timeout-ms 2600 >"$MF_TMP/status.jsonl" || true
python3 - "$MF_TMP/status.jsonl" "$AGG_INSTANCES" <<'PY' || mf_fail "status check failed"
import json, sys
last = {}
for line in open(sys.argv[1]):
    s = json.loads(line)
    last[s["instance"]] = s
assert len(last) == int(sys.argv[2]), "statuses from %s" % sorted(last)
tot = lambda f: sum(s[f] for s in last.values())
rej = lambda r: sum(s["rejected"][r] for s in last.values())
for s in last.values():
    for f in ("ticks_in", "rollups_out", "late_corrections", "rejected", "pending_acks", "lag",
              "keys", "open_windows"):
        assert f in s, "status lacks " + f
assert tot("late_corrections") > 0, "no late corrections"
assert tot("rollups_out") > tot("late_corrections"), "only corrections: ticks were not on time"
assert rej("json") == 1 and rej("old") == 1, "rejected: %s" % [s["rejected"] for s in last.values()]
assert tot("pending_acks") == 0, "pending_acks %d" % tot("pending_acks")
print("status ok ticks_in=%d rollups_out=%d late_corrections=%d" % (
    tot("ticks_in"), tot("rollups_out"), tot("late_corrections")))
PY

agg_stop_all "${names[@]}"
"$MFCAT" stream MARKETFLOW_ROLLUPS --timeout-ms 5000 >"$MF_TMP/rollups.jsonl" ||
    mf_fail "reading MARKETFLOW_ROLLUPS failed"
producers=$(python3 -c 'import json,sys; print(len({json.loads(l)["producer"] for l in open(sys.argv[1])}))' "$MF_TMP/rollups.jsonl")
[[ $producers == "$AGG_INSTANCES" ]] || mf_fail "rollups from $producers producers, want $AGG_INSTANCES"
agg_oracle_check "$MF_TMP/rollups.jsonl" "$MF_TMP/inorder.jsonl" "$MF_TMP/shuffled.jsonl" \
    "$MF_TMP/dups.jsonl" "$MF_TMP/late.jsonl"
mf_pass "rollups of $AGG_INSTANCES instance(s) merge to the oracle (in order, shuffled, late, duplicates)"
