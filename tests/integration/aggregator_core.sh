#!/usr/bin/env bash
# aggregator_core: transport=core. Two instances in one core queue group; ticks published on core
# NATS (in order and shuffled); rollups and latest read with plain subscriptions. After a
# graceful stop the merged partials equal the oracle exactly, and the latest is conflated
# (at most one per key per latest_interval_ms) and ends on each key's newest tick.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/aggregator_lib.sh"

mf_start_nats
export MARKETFLOW_AGGREGATOR_WORKERS=2
agg_start agg1 MARKETFLOW_NATS_TRANSPORT=core
agg_start agg2 MARKETFLOW_NATS_TRANSPORT=core
agg_wait_consuming agg1
agg_wait_consuming agg2
agg_sub_bg rollsub 'marketflow.rollups.>'
agg_sub_bg latestsub 'marketflow.latest.>'

now=$(agg_now_ms)
python3 "$ORACLE" gen-ticks --seed 21 --count 4000 --from-ms $((now + 1500)) \
    --to-ms $((now + 4000)) --exchanges exchange1,exchange2 --order inorder >"$MF_TMP/a.jsonl"
python3 "$ORACLE" gen-ticks --seed 22 --count 4000 --from-ms $((now + 1500)) \
    --to-ms $((now + 4000)) --exchanges exchange3 --order shuffled >"$MF_TMP/b.jsonl"
# Core NATS has no dedupe: keep only the first of ticks that happen to share a msg id.
python3 - "$MF_TMP/a.jsonl" "$MF_TMP/b.jsonl" <<PY
import sys
sys.path.insert(0, "$SOURCE_DIR/tests/integration")
import oracle
for p in sys.argv[1:]:
    ts = oracle.dedupe(oracle.load_bus_ticks(p))
    open(p, "w").write("".join(oracle.tick_json(t) + "\n" for t in ts))
PY
agg_pub_ticks "$MF_TMP/a.jsonl" --core
agg_pub_ticks "$MF_TMP/b.jsonl" --core
sleep 1
agg_stop_all agg1 agg2
sleep 0.5
mf_stop_bg rollsub
mf_stop_bg latestsub
agg_oracle_check --no-dedupe "$MF_TMP/rollsub.jsonl" "$MF_TMP/a.jsonl" "$MF_TMP/b.jsonl"

python3 - "$MF_TMP/latestsub.jsonl" "$MF_TMP/a.jsonl" "$MF_TMP/b.jsonl" <<'PY' ||
import json, sys
latest = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ticks = [json.loads(l) for p in sys.argv[2:] for l in open(p) if l.strip()]
assert latest, "no latest published"
newest = {}
for t in ticks:
    k = (t["exchange"], t["symbol"])
    if k not in newest or (t["ts"], t.get("id", -1), t["price"]) > \
            (newest[k]["ts"], newest[k].get("id", -1), newest[k]["price"]):
        newest[k] = t
# Several instances publish latest for one key: consumers keep the newest (by ts), as the
# cache does.
last = {}
per_key = {}
for m in latest:
    k = (m["exchange"], m["symbol"])
    if k not in last or (m["ts"], m.get("id", -1), m["price"]) > \
            (last[k]["ts"], last[k].get("id", -1), last[k]["price"]):
        last[k] = m
    per_key[k] = per_key.get(k, 0) + 1
assert set(last) == set(newest), "latest keys %s" % sorted(last)
for k, t in newest.items():
    assert last[k]["ts"] == t["ts"] and last[k]["price"] == t["price"], (k, last[k], t)
# Publishing took well under 10 s; at most one per 100 ms per key and instance (+1 at stop).
worst = max(per_key.values())
assert worst < 2 * 10 * 10 + 2, "latest not conflated: %d for one key" % worst
print("latest ok keys=%d messages=%d max_per_key=%d (ticks=%d)" % (
    len(last), len(latest), worst, len(ticks)))
PY
    mf_fail "latest check failed"
mf_pass "core transport: exact rollups over 2 instances, conflated latest"
