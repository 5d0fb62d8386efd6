#!/usr/bin/env bash
# generator_basic: the generator as a stand-in exchange. Two feeds; two clients on one feed
# get identical lines (the later one a contiguous run of the earlier one's), in the DESIGN
# section 3 format, symbol order and rate; the log equals what the clients received; a client
# that stops reading is dropped while another keeps receiving (and a lone one after 5 s);
# SIGTERM exits 0.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

GEN=$(mf_bin generator) || mf_fail "marketflow-generator not built"
TOOL=(python3 "$SOURCE_DIR/tests/integration/generator_tool.py")
T=$MF_TMP

connected() { # connected LOG N: the generator logged at least N client connections
    [[ $(grep -c 'client connected' "$1") -ge $2 ]]
}

# ---- part 1: default pacing, two feeds, three clients ---------------------------------------
P1=$(mf_free_port)
P2=$(mf_free_port)
mf_start_bg generator "$GEN" --listen "exchange1=127.0.0.1:$P1,exchange2=127.0.0.1:$P2" \
    --seed 42 --log "$T/gen1.lines"
mf_wait_for 10 grep -q 'feed listening exchange=exchange2' "$T/generator.log"

mf_start_bg reader_a "${TOOL[@]}" read "$P1" "$T/a.out" --max-seconds 30
mf_wait_for 5 connected "$T/generator.log" 1
sleep 0.5
mf_start_bg reader_b "${TOOL[@]}" read "$P1" "$T/b.out" --seconds 1.5
mf_start_bg reader_c "${TOOL[@]}" read "$P2" "$T/c.out" --max-seconds 30
mf_wait_for 5 connected "$T/generator.log" 3
sleep 2.5
mf_stop_bg generator
rc=$(mf_exit_code generator)
[[ $rc == 0 ]] || mf_fail "generator exited $rc on SIGTERM (expected 0)"
grep -q 'msg="stopped"' "$T/generator.log" || mf_fail "no 'stopped' log line"
for r in reader_a reader_b reader_c; do
    mf_wait_exit "$r" 10 >/dev/null
done

out=$("${TOOL[@]}" check-lines "$T/a.out" --interval-ms 100) || mf_fail "client A: $out"
echo "client A: $out"
"${TOOL[@]}" check-lines "$T/c.out" --interval-ms 100 >/dev/null || mf_fail "client C lines"
out=$("${TOOL[@]}" slice "$T/a.out" "$T/b.out") || mf_fail "B is not a run of A: $out"
echo "client B within A: $out"
n=$(wc -l <"$T/b.out")
((n >= 50)) || mf_fail "client B got only $n lines in 1.5 s"
"${TOOL[@]}" log-equals "$T/gen1.lines" exchange1 "$T/a.out" >/dev/null ||
    mf_fail "log of exchange1 differs from client A"
"${TOOL[@]}" log-equals "$T/gen1.lines" exchange2 "$T/c.out" >/dev/null ||
    mf_fail "log of exchange2 differs from client C"
pa=$(head -1 "$T/a.out" | sed 's/.*"price":\([^,]*\),.*/\1/')
pc=$(head -1 "$T/c.out" | sed 's/.*"price":\([^,]*\),.*/\1/')
[[ $pa != "$pc" ]] || mf_fail "exchange1 and exchange2 walk alike ($pa)"

# ---- part 2: a client that stops reading is dropped, the other keeps receiving --------------
P3=$(mf_free_port)
mf_start_bg generator2 "$GEN" --listen "exchange1=127.0.0.1:$P3" --rate 20000 \
    --client-buffer 65536 --log "$T/gen2.lines"
mf_wait_for 10 grep -q 'feed listening' "$T/generator2.log"
mf_start_bg fast "${TOOL[@]}" read "$P3" "$T/fast.out" --max-seconds 30
mf_wait_for 5 connected "$T/generator2.log" 1
mf_start_bg stalled "${TOOL[@]}" stall "$P3" 30
mf_wait_for 10 grep -q 'dropping client that stopped reading' "$T/generator2.log"
s1=$(stat -c %s "$T/fast.out")
sleep 1
s2=$(stat -c %s "$T/fast.out")
((s2 > s1 + 100000)) || mf_fail "fast client stalled after the drop ($s1 -> $s2 bytes)"
mf_stop_bg generator2
rc=$(mf_exit_code generator2)
[[ $rc == 0 ]] || mf_fail "generator2 exited $rc on SIGTERM"
mf_wait_exit fast 10 >/dev/null
out=$("${TOOL[@]}" check-lines "$T/fast.out" --rate 20000) || mf_fail "fast client: $out"
echo "fast client: $out"
"${TOOL[@]}" log-equals "$T/gen2.lines" exchange1 "$T/fast.out" >/dev/null ||
    mf_fail "log differs from the fast client"
grep -q 'client closed exchange=exchange1 .* reason=slow' "$T/generator2.log" ||
    mf_fail "drop not logged as slow"

# ---- part 3: a lone client that stops reading is dropped too (no progress for 5 s) -----------
P4=$(mf_free_port)
mf_start_bg generator3 "$GEN" --listen "exchange1=127.0.0.1:$P4" --rate 20000 \
    --client-buffer 65536
mf_wait_for 10 grep -q 'feed listening' "$T/generator3.log"
mf_start_bg stalled3 "${TOOL[@]}" stall "$P4" 30
mf_wait_for 12 grep -q 'client closed exchange=exchange1 .* reason=slow' "$T/generator3.log"
mf_stop_bg generator3
[[ $(mf_exit_code generator3) == 0 ]] || mf_fail "generator3 did not exit 0"

mf_pass "format, order, rate, identical clients, log, slow-client drop, clean SIGTERM"
