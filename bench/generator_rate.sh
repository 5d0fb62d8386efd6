#!/usr/bin/env bash
# generator_rate.sh: lines/s the generator delivers to fast readers, for 1 and 3 feeds, with
# the generator's CPU seconds. Prints figures; asserts nothing.
#
#   bench/generator_rate.sh [SECONDS] [RATE_PER_FEED]
#
# BUILD_DIR (default build) must hold marketflow-generator and bench_generator_reader.
# RATE_PER_FEED defaults to 5000000 (above what the machine does: "as fast as possible").
set -euo pipefail
SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build}
SECONDS_RUN=${1:-5}
RATE=${2:-5000000}
GEN=$(find "$BUILD_DIR" -type f -name marketflow-generator -perm -u+x -print -quit)
READER=$(find "$BUILD_DIR" -type f -name bench_generator_reader -perm -u+x -print -quit)
[[ -x $GEN && -x $READER ]] || { echo "build marketflow-generator and bench_generator_reader first" >&2; exit 1; }
TCK=$(getconf CLK_TCK)

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cpu_ticks() { # utime + stime of PID
    local line
    read -r line <"/proc/$1/stat"
    line=${line##*) }
    set -- $line
    echo $((${12} + ${13}))
}

run() {
    local feeds=$1 extended=$2 rate=$3 list="" ports=() i p pid t0 t1 out
    for ((i = 1; i <= feeds; i++)); do
        p=$(free_port)
        ports+=("$p")
        list+="${list:+,}exchange$i=127.0.0.1:$p"
    done
    local -a extra=()
    [[ $extended == 1 ]] && extra+=(--extended)
    "$GEN" --listen "$list" --rate "$rate" --log-level warn "${extra[@]}" &
    pid=$!
    sleep 0.3
    # the reader warms up 0.5 s before counting; sample the CPU over the counted part
    "$READER" "$SECONDS_RUN" "${ports[@]}" >"/tmp/genbench.$$" &
    local rpid=$!
    sleep 0.5
    t0=$(cpu_ticks "$pid")
    wait "$rpid"
    t1=$(cpu_ticks "$pid")
    out=$(cat "/tmp/genbench.$$")
    rm -f "/tmp/genbench.$$"
    kill -TERM "$pid"
    wait "$pid" || true
    printf 'feeds=%d extended=%d rate_per_feed=%d %s generator_cpu_s=%s (over %ss)\n' \
        "$feeds" "$extended" "$rate" "$out" "$(awk -v a="$t0" -v b="$t1" -v t="$TCK" 'BEGIN{printf "%.2f", (b-a)/t}')" \
        "$SECONDS_RUN"
}

echo "# generator_rate: $(nproc) cpus, rate per feed $RATE, ${SECONDS_RUN}s per run"
run 1 0 "$RATE"
run 3 0 "$RATE"
run 3 1 "$RATE"
run 3 0 350000 # paced: 1.05M lines/s in total, is it met and at what CPU cost?
