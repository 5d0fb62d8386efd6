#!/usr/bin/env bash
# collector_callgrind.sh: collector instructions per tick (valgrind callgrind), a figure that
# does not depend on the machine's load, unlike ticks/s.
#   BUILD_DIR=build bash bench/collector_callgrind.sh [TRANSPORT] [COLLECTOR_BINARY]
# Runs bench_collector (1 feed) twice under callgrind, with 20k and 60k lines, and prints
# (Ir(60k) - Ir(20k)) / (ticks(60k) - ticks(20k)): the per-tick instruction count with the
# start-up and shutdown costs taken out. Every thread of the collector is counted.
set -euo pipefail
SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
export SOURCE_DIR BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build}
source "$SOURCE_DIR/tests/integration/lib.sh"
TRANSPORT=${1:-jetstream}
BENCH="$BUILD_DIR/services/collector/bench_collector"
COLL=${2:-$(mf_bin collector)}
command -v valgrind >/dev/null || mf_fail "valgrind not installed"
mf_start_nats
WRAP="$MF_TMP/coll-under-callgrind"
cat >"$WRAP" <<EOF
#!/usr/bin/env bash
exec valgrind --tool=callgrind --callgrind-out-file="\$CG_OUT" "$COLL" "\$@"
EOF
chmod +x "$WRAP"
run() { # run LINES: prints "ticks Ir"
    local out="$MF_TMP/cg.$1" line ticks ir
    line=$(CG_OUT=$out "$BENCH" --collector "$WRAP" --nats "$MF_NATS_URL" --feeds 1 \
        --lines "$1" --transport "$TRANSPORT" 2>/dev/null || true)
    ticks=$(sed -n 's/.*on bus: \([0-9]*\) ticks.*/\1/p' <<<"$line")
    sleep 1
    ir=$(awk '/^summary:/ { print $2 }' "$out")
    echo "$ticks $ir"
}
read -r T1 I1 < <(run 20000)
read -r T2 I2 < <(run 60000)
echo "transport=$TRANSPORT 20k lines: $T1 ticks, $I1 Ir;  60k lines: $T2 ticks, $I2 Ir"
python3 -c "print('instructions per tick: %.0f' % (($I2 - $I1) / ($T2 - $T1)))"
