#!/usr/bin/env bash
# aggregator_bench.sh: throughput and memory of marketflow-aggregator. Prints figures; asserts
# nothing. Usage: BUILD_DIR=build bench/aggregator_bench.sh [TICKS]   (default 400000)
#
#   baseline:  bench_aggregator, a bare pull consumer that decodes and acks each tick at once,
#              on the same preloaded stream: the ceiling the jetstream figure compares with.
#   jetstream: TICKS ticks preloaded into MARKETFLOW_TICKS (3 exchanges x 5 symbols, ts within
#              the last minutes), then 1 or 2 instances started at once; rate = TICKS / time
#              from the first tick taken to the consumer having nothing pending or unacked;
#              cpu_s = the instances' user+system CPU seconds (steadier than the rate when
#              other jobs share the machine).
#   core:      core NATS cannot hold ticks, so 1 or 2 instances run first and TICKS ticks are
#              published at full speed from a file (mf-cat pub-ticks --core); rate = ticks
#              taken / time between first and last (ticks the server dropped are reported).
#   rss:       10,000 symbols x 3 exchanges, 3 ticks each (ts ahead, so on time), one instance:
#              VmHWM and VmRSS once the consumer is idle, with the windows still open.
#              AGG_RSS_DELAY=6 starts the instance 6 s late: every tick then opens a correction
#              partial (90,000 publishes in flight at once), the worst case for memory.
# Each instance runs aggregator.workers=2 (the default) on this 2-vCPU machine.
set -euo pipefail
N=${1:-400000}
SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
export SOURCE_DIR BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build}
MF_LOG_LEVEL=${MF_LOG_LEVEL:-warn}
source "$SOURCE_DIR/tests/integration/lib.sh"
source "$SOURCE_DIR/tests/integration/aggregator_lib.sh"

metric() { # metric PORT NAME: sum of a Prometheus counter
    curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null |
        awk -v n="marketflow_$2" '$1 ~ "^"n"({|$)" {s += $2} END {printf "%d\n", s}'
}

gen() { # gen COUNT FROM TO SEED EXCHANGES SYMBOLS > file
    python3 "$ORACLE" gen-ticks --count "$1" --from-ms "$2" --to-ms "$3" --seed "$4" \
        --exchanges "$5" --symbols "$6" --order inorder
}

start_instances() { # start_instances K TRANSPORT: instances b1..bK, metrics ports in PORTS
    PORTS=()
    local i p
    for ((i = 1; i <= $1; i++)); do
        p=$(mf_free_port)
        PORTS+=("$p")
        agg_start "b$i" MARKETFLOW_NATS_TRANSPORT="$2" MARKETFLOW_METRICS_PORT="$p" \
            MARKETFLOW_METRICS_BIND=127.0.0.1
    done
}

stop_instances() {
    local i
    for ((i = 1; i <= $1; i++)); do mf_stop_bg "b$i"; done
}

cpu_s() { # cpu_s K: user+system CPU seconds of instances b1..bK so far (less load-sensitive)
    local i line t=0 k=$1
    for ((i = 1; i <= k; i++)); do
        read -r line <"/proc/$(mf_pid "b$i")/stat"
        line=${line##*) }
        set -- $line
        t=$((t + ${12} + ${13}))
    done
    echo "scale=2; $t / $(getconf CLK_TCK)" | bc
}

ticks_in_total() {
    local p s=0
    for p in "${PORTS[@]}"; do s=$((s + $(metric "$p" aggregator_ticks_in_total))); done
    echo "$s"
}

now=$(agg_now_ms)
gen "$N" $((now - 600000)) "$now" 1 exchange1,exchange2,exchange3 \
    BTCUSDT,ETHUSDT,DOGEUSDT,SOLUSDT,TONUSDT >"$MF_TMP/ticks.jsonl"

bench_jetstream() { # K
    local k=$1 t0 t1 st
    mf_start_nats
    # Preload (mf-cat creates the streams), then start the instances.
    mf_as feeder "$MFCAT" pub-ticks <"$MF_TMP/ticks.jsonl" >"$MF_TMP/pub.out" 2>&1 || mf_fail "pub-ticks: $(tail -3 "$MF_TMP/pub.out")"
    if [[ $k == 1 && -x ${BENCH_RAW:=$BUILD_DIR/services/aggregator/bench_aggregator} ]]; then
        "$BENCH_RAW" 2>/dev/null | sed 's/^/jetstream baseline (bare pull+ack, same stream) /'
    fi
    t0=$(agg_now_ms)
    start_instances "$k" jetstream
    st=""
    while :; do
        st=$(agg_consumer_state 2>/dev/null || echo "x x")
        [[ $st == "0 0" ]] && break
        sleep 0.05
    done
    t1=$(agg_now_ms)
    printf 'jetstream instances=%d ticks=%d seconds=%.2f ticks_per_s=%d cpu_s=%s\n' "$k" "$N" \
        "$(echo "($t1 - $t0) / 1000" | bc -l)" $((N * 1000 / (t1 - t0))) "$(cpu_s "$k")"
    stop_instances "$k"
    mf_stop_nats
    rm -rf "$MF_TMP/nats" # a fresh JetStream store for the next run
}

bench_core() { # K
    local k=$1 t0 t1 last cur stable
    mf_start_nats
    start_instances "$k" core
    for p in "${PORTS[@]}"; do mf_wait_for 20 curl -fsS "http://127.0.0.1:$p/metrics"; done
    sleep 0.5
    t0=$(agg_now_ms)
    mf_as feeder "$MFCAT" pub-ticks --core <"$MF_TMP/ticks.jsonl" >/dev/null 2>&1
    last=-1 stable=0 t1=$t0
    while ((stable < 10)); do
        cur=$(ticks_in_total)
        if ((cur != last)); then last=$cur t1=$(agg_now_ms) stable=0; else stable=$((stable + 1)); fi
        ((cur >= N)) && break
        sleep 0.05
    done
    printf 'core instances=%d published=%d taken=%d seconds=%.2f ticks_per_s=%d\n' "$k" "$N" \
        "$last" "$(echo "($t1 - $t0) / 1000" | bc -l)" $((last * 1000 / (t1 - t0)))
    stop_instances "$k"
    mf_stop_nats
    rm -rf "$MF_TMP/nats" # a fresh JetStream store for the next run
}

bench_rss() {
    local syms i pid
    mf_start_nats
    syms=$(python3 -c 'print(",".join("S%05d" % i for i in range(10000)))')
    now=$(agg_now_ms)
    for i in 0 1 2; do
        python3 - "$now" "$i" "$syms" <<'PY' >>"$MF_TMP/rss.jsonl"
import sys
now, i, syms = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
for ex in ("exchange1", "exchange2", "exchange3"):
    for s in syms:
        ts = now + 3000 + i * 1000
        print('{"exchange":"%s","symbol":"%s","price":%s,"ts":%d,"recv_ts":%d,"qty":1.5}'
              % (ex, s, 100 + i + len(s) / 7, ts, ts))
PY
    done
    mf_as feeder "$MFCAT" pub-ticks <"$MF_TMP/rss.jsonl" >"$MF_TMP/pub.out" 2>&1 || mf_fail "pub-ticks: $(tail -3 "$MF_TMP/pub.out")"
    sleep "${AGG_RSS_DELAY:-0}" # e.g. 6: every bucket is due on arrival (corrections)
    start_instances 1 jetstream
    mf_wait_for 60 agg_consumer_idle
    pid=$(mf_pid b1)
    sleep 1
    printf 'rss keys=30000 ticks=90000 (1 s and 1 min buckets open) %s %s late_corrections=%s\n' \
        "$(grep VmHWM /proc/"$pid"/status | tr -s ' \t' ' ')" \
        "$(grep VmRSS /proc/"$pid"/status | tr -s ' \t' ' ')" \
        "$(metric "${PORTS[0]}" aggregator_late_corrections_total)"
    sleep 8 # the seconds flush; minutes stay open
    printf 'rss after the seconds flushed (minutes open): %s\n' "$(grep VmRSS /proc/"$pid"/status | tr -s ' \t' ' ')"
    stop_instances 1
    mf_stop_nats
    rm -rf "$MF_TMP/nats" # a fresh JetStream store for the next run
}

echo "aggregator bench: ticks=$N nproc=$(nproc) $(date -u +%FT%TZ)"
for what in ${AGG_BENCH:-js1 js2 core1 core2 rss}; do
    case $what in
    js1) bench_jetstream 1 ;;
    js2) bench_jetstream 2 ;;
    core1) bench_core 1 ;;
    core2) bench_core 2 ;;
    rss) bench_rss ;;
    esac
done
