#!/usr/bin/env bash
# generator_faults: fault injection and reproducibility. A faulty extended stream holds valid
# lines (ids increasing), malformed lines, exact duplicates and reordered timestamps, and the
# log equals what the client got; the same seed gives the same stream; --count ends a feed
# with EOF and the process exits 0; periodic disconnects and pauses happen; a bad fault spec
# exits 2 with one line.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

GEN=$(mf_bin generator) || mf_fail "marketflow-generator not built"
TOOL=(python3 "$SOURCE_DIR/tests/integration/generator_tool.py")
T=$MF_TMP

# ---- a bad spec is rejected at start -------------------------------------------------------
set +e
"$GEN" --listen "x=127.0.0.1:$(mf_free_port)" --set generator.faults=malformed=2 \
    >"$T/bad.out" 2>"$T/bad.err"
rc=$?
set -e
[[ $rc == 2 ]] || mf_fail "bad fault spec: exit $rc, expected 2"
[[ $(grep -c 'generator.faults' "$T/bad.err") == 1 ]] || mf_fail "bad spec: $(cat "$T/bad.err")"

# ---- faulty extended stream ----------------------------------------------------------------
P=$(mf_free_port)
mf_start_bg gen_faulty "$GEN" --listen "exchange1=127.0.0.1:$P" --rate 5000 --extended \
    --seed 7 --faults malformed=0.05,duplicate=0.05,reorder=0.05 --log "$T/faulty.lines"
mf_wait_for 10 grep -q 'feed listening' "$T/gen_faulty.log"
mf_start_bg reader "${TOOL[@]}" read "$P" "$T/faulty.out" --max-seconds 30
mf_wait_for 5 grep -q 'client connected' "$T/gen_faulty.log"
sleep 2
mf_stop_bg gen_faulty
[[ $(mf_exit_code gen_faulty) == 0 ]] || mf_fail "faulty generator did not exit 0"
mf_wait_exit reader 10 >/dev/null
sum=$("${TOOL[@]}" faults "$T/faulty.out") || mf_fail "faulty stream: $sum"
echo "faulty stream: $sum"
read -r lines valid invalid dup reorder < <(sed 's/[a-z]*=//g' <<<"$sum")
((valid > 5000 && invalid > valid / 40 && invalid < valid / 10)) || mf_fail "malformed share: $sum"
((dup > valid / 40 && dup < valid / 10)) || mf_fail "duplicate share: $sum"
((reorder > valid / 40 && reorder < valid / 10)) || mf_fail "reorder share: $sum"
"${TOOL[@]}" log-equals "$T/faulty.lines" exchange1 "$T/faulty.out" >/dev/null ||
    mf_fail "log differs from the client"

# ---- same seed, same stream; --count ends the feed and the process --------------------------
for run in 1 2; do
    P=$(mf_free_port)
    mf_start_bg "gen_count$run" "$GEN" --listen "exchange1=127.0.0.1:$P" --rate 20000 \
        --extended --seed 99 --faults malformed=0.02,duplicate=0.02 --count 3000
    mf_wait_for 10 grep -q 'feed listening' "$T/gen_count$run.log"
    "${TOOL[@]}" read "$P" "$T/count$run.out" --max-seconds 20 2>/dev/null
    mf_wait_exit "gen_count$run" 10 >/dev/null
    rc=$(mf_exit_code "gen_count$run")
    [[ $rc == 0 ]] || mf_fail "--count run exited $rc"
    n=$(wc -l <"$T/count$run.out")
    [[ $n == 3000 ]] || mf_fail "--count 3000 delivered $n lines"
    sed 's/"timestamp":[0-9]*//' "$T/count$run.out" >"$T/count$run.nots"
done
cmp -s "$T/count1.nots" "$T/count2.nots" || mf_fail "same seed, different streams"

# ---- periodic disconnects and pauses -------------------------------------------------------
P=$(mf_free_port)
mf_start_bg gen_disc "$GEN" --listen "exchange1=127.0.0.1:$P" --faults disconnect_every_s=1
mf_wait_for 10 grep -q 'feed listening' "$T/gen_disc.log"
start=$(date +%s%N)
"${TOOL[@]}" read "$P" "$T/disc.out" --max-seconds 10 2>/dev/null
el=$((($(date +%s%N) - start) / 1000000))
((el < 2500)) || mf_fail "no disconnect within 2.5 s (${el} ms)"
grep -q 'fault: disconnecting clients' "$T/gen_disc.log" || mf_fail "disconnect not logged"
mf_stop_bg gen_disc

P=$(mf_free_port)
mf_start_bg gen_pause "$GEN" --listen "exchange1=127.0.0.1:$P" \
    --faults pause_every_s=1,pause_ms=600
mf_wait_for 10 grep -q 'feed listening' "$T/gen_pause.log"
"${TOOL[@]}" read "$P" "$T/pause.out" --seconds 3 2>/dev/null
mf_stop_bg gen_pause
gap=$(python3 -c '
import json, sys
ts = [json.loads(l)["timestamp"] for l in open(sys.argv[1])]
print(max(b - a for a, b in zip(ts, ts[1:])))' "$T/pause.out")
((gap >= 500)) || mf_fail "no pause in the stream (largest gap ${gap} ms)"

mf_pass "faults, log, reproducible seed, --count, disconnects, pauses, bad spec"
