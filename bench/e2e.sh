#!/usr/bin/env bash
# e2e.sh: end-to-end performance of the whole pipeline against the bus limit, in one run.
# Prints figures (a results table at the end); asserts nothing.
#
#   BUILD_DIR=build-perf bench/e2e.sh
#
# Needs marketflow-{generator,collector,aggregator,persister,api}, bench_e2e and mf-cat built
# in BUILD_DIR (Release or RelWithDebInfo). Every server (nats-server, Redis, PostgreSQL) is
# started on free loopback ports by tests/integration/lib.sh; nothing else is touched.
#
#  1. raw limit: bench_e2e raw-core (plain publisher -> subscriber of tick JSON through the same
#     nats-server) and raw-js (bare JetStream publisher with Nats-Msg-Id -> pull consumer with
#     explicit acks, both at once: the durable ceiling), once flooded and then paced at the
#     RAW_JS_RATES ladder: the highest rate the bare pair sustains is the JetStream raw limit.
#  2. pipeline: generator (3 feeds, 5 symbols each) -> collector -> aggregator -> persister
#     --sink postgres + --sink redis -> api, for transport=core and transport=jetstream, at
#     rising rates (STEP_S seconds each). A step is sustained when the generator, the
#     collector and the aggregator all keep >= 95% of the rate, nothing is dropped, the
#     JetStream backlog (undelivered ticks) stays under 0.5 s worth, and after the step every
#     1 s rollup the aggregator published is stored by both sinks (persister counters; waited
#     up to 20 s). The ladder stops at the first step that is not sustained.
#  3. latency in a dedicated 50,000 ticks/s step (LAT_S s) after the ladder: bench_e2e probe (tick recv_ts at the collector
#     -> price visible via GET /prices/latest/exchange1/BTCUSDT).
#  4. CPU seconds per million ticks (utime+stime over that 50k step / ticks aggregated) and
#     peak RSS (VmHWM at the end of each transport's run) per process; and the aggregator's
#     RSS with 10,000 symbols x 3 exchanges (bench/aggregator_bench.sh rss).
#
# Knobs: CORE_RATES, JS_RATES (ticks/s, space separated), STEP_S (default 6), LAT_S (default
# 10), TRANSPORTS (default "core jetstream"), RAW_JS_RATES, SKIP_RSS=1. Other engineers' jobs share the CPUs: compare ratios within one run.
set -euo pipefail
SOURCE_DIR=${SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
export SOURCE_DIR BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build}
MF_LOG_LEVEL=${MF_LOG_LEVEL:-warn}
CORE_RATES=${CORE_RATES:-"50000 100000 150000 200000 250000 300000 350000 400000 450000 500000 600000"}
JS_RATES=${JS_RATES:-"10000 15000 20000 25000 30000 35000 40000 45000 50000 60000 75000 100000 150000"}
STEP_S=${STEP_S:-6}
LAT_S=${LAT_S:-10}
TRANSPORTS=${TRANSPORTS:-"core jetstream"}
RAW_JS_RATES=${RAW_JS_RATES:-"10000 15000 20000 25000 30000 35000 40000 45000 50000 60000 70000 80000 100000"}
source "$SOURCE_DIR/tests/integration/lib.sh"
BENCH=$(find "$BUILD_DIR" -type f -name bench_e2e -perm -u+x -print -quit)
[[ -x $BENCH ]] || mf_fail "bench_e2e not built in $BUILD_DIR"
TCK=$(getconf CLK_TCK)
OUT="$MF_TMP/results"
: >"$OUT"
T_START=$SECONDS

say() { printf '%s\n' "$*" | tee -a "$OUT"; }
now_ms() { local us=${EPOCHREALTIME/./}; echo $((us / 1000)); }

metric() { # metric PORT NAME [LABEL_SUBSTRING]: sum of a Prometheus series
    curl -fsS -m 2 "http://127.0.0.1:$1/metrics" 2>/dev/null |
        awk -v n="marketflow_$2" -v l="${3:-}" \
            '$1 ~ "^"n"({|$)" && index($1, l) {s += $2} END {printf "%d\n", s}'
}

cpu_ticks() { # utime+stime of PID and its live children (PostgreSQL backends)
    local p s=0 line
    for p in "$1" $(pgrep -P "$1" 2>/dev/null || true); do
        read -r line <"/proc/$p/stat" 2>/dev/null || continue
        line=${line##*) }
        set -- $line
        s=$((s + ${12} + ${13}))
    done
    echo "$s"
}

hwm_mib() { # peak RSS of PID in MiB
    awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo "?"
}

consumer_pending() { # undelivered ticks of the aggregators' durable consumer (0 in core)
    curl -fsS -m 2 "$MF_NATS_MONITOR_URL/jsz?consumers=true" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
for a in d.get("account_details", []):
    for s in a.get("stream_detail", []):
        for c in s.get("consumer_detail") or []:
            if c["name"] == "marketflow-aggregator":
                print(c["num_pending"], c["num_ack_pending"]); sys.exit(0)
print(0, 0)' 2>/dev/null || echo "0 0"
}

SERVICES=(collector aggregator pers-pg pers-redis api nats-server redis-server postgres)

start_stack() { # start_stack TRANSPORT
    local t=$1
    export MARKETFLOW_NATS_TRANSPORT=$t MARKETFLOW_METRICS_BIND=127.0.0.1
    mf_start_nats
    mf_redis_cli FLUSHALL >/dev/null
    mf_psql -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public' >/dev/null
    mf_feeds 3
    mf_setup_api
    P_COLL=$(mf_free_port) P_AGG=$(mf_free_port) P_PG=$(mf_free_port) P_RD=$(mf_free_port)
    mf_start_bg aggregator env MARKETFLOW_LOG_INSTANCE="agg-$t" MARKETFLOW_METRICS_PORT="$P_AGG" \
        "$(mf_bin aggregator)"
    mf_start_bg pers-pg env MARKETFLOW_METRICS_PORT="$P_PG" "$(mf_bin persister)" --sink postgres
    mf_start_bg pers-redis env MARKETFLOW_METRICS_PORT="$P_RD" "$(mf_bin persister)" --sink redis
    mf_start_bg api "$(mf_bin api)"
    mf_start_bg collector env MARKETFLOW_METRICS_PORT="$P_COLL" "$(mf_bin collector)"
    mf_wait_for 30 curl -fsS "$MF_API_URL/ping"
    for p in $P_COLL $P_AGG $P_PG $P_RD; do mf_wait_for 30 curl -fsS "http://127.0.0.1:$p/metrics"; done
    sleep 1
}

stop_stack() {
    local s
    for s in collector aggregator pers-pg pers-redis api; do mf_stop_bg "$s"; done
    mf_stop_nats
    rm -rf "$MF_TMP/nats"
}

snap() { # snap VAR: counters into an associative array named VAR
    local -n _snap=$1
    _snap[gen]=$(metric "$P_GEN" generator_lines_total)
    _snap[pub]=$(metric "$P_COLL" collector_published_total)
    _snap[drop]=$(($(metric "$P_COLL" collector_dropped_total) + $(metric "$P_COLL" collector_publish_dropped_total)))
    _snap[agg]=$(metric "$P_AGG" aggregator_ticks_in_total)
    _snap[t]=$(now_ms)
    local s
    for s in "${SERVICES[@]}"; do _snap[cpu_$s]=$(cpu_ticks "$(mf_pid "$s")"); done
}

rollups_stored() { # true when both sinks merged (or skipped as duplicate) every 1 s rollup
    local out pg rd
    out=$(metric "$P_AGG" aggregator_rollups_out_total 1s)
    pg=$(($(metric "$P_PG" persister_partials_written_total) + $(metric "$P_PG" persister_duplicates_total)))
    rd=$(($(metric "$P_RD" persister_partials_written_total) + $(metric "$P_RD" persister_duplicates_total)))
    STORED="rollups=$out pg=$pg redis=$rd"
    ((out > 0 && pg >= out && rd >= out))
}

# step TRANSPORT RATE: runs one step; prints one line; returns 1 when not sustained.
step() {
    local t=$1 rate=$2 measure=${3:-} secs=$STEP_S probe_pid="" ok=1 why="" k
    local -A a b
    [[ -n $measure ]] && secs=$LAT_S
    P_GEN=$(mf_free_port)
    mf_start_bg generator env MARKETFLOW_METRICS_PORT="$P_GEN" "$(mf_bin generator)" \
        --rate $(((rate + 2) / 3)) --listen "$MF_FEEDS"
    SERVICES+=(generator)
    sleep 1.5
    snap a
    read -r pend0 _ < <(consumer_pending)
    if [[ -n $measure ]]; then
        "$BENCH" probe "$secs" "$MF_API_URL" exchange1 BTCUSDT >"$MF_TMP/probe-$t.out" 2>"$MF_TMP/probe-$t.err" &
        probe_pid=$!
    fi
    sleep "$secs"
    snap b
    read -r pend1 ackp1 < <(consumer_pending)
    [[ -n $probe_pid ]] && wait "$probe_pid"
    mf_stop_bg generator
    unset 'SERVICES[-1]'
    local dt=$((b[t] - a[t]))
    local g=$(((b[gen] - a[gen]) * 1000 / dt)) c=$(((b[pub] - a[pub]) * 1000 / dt))
    local ag=$(((b[agg] - a[agg]) * 1000 / dt)) dr=$((b[drop] - a[drop]))
    local need=$((rate * 95 / 100))
    ((g >= need)) || { ok=0; why+=" generator<95%"; }
    ((c >= need)) || { ok=0; why+=" collector<95%"; }
    ((ag >= need)) || { ok=0; why+=" aggregator<95%"; }
    ((dr == 0)) || { ok=0; why+=" dropped=$dr"; }
    ((pend1 <= rate / 2)) || { ok=0; why+=" backlog=$pend1"; }
    # every 1 s rollup stored (the aggregator flushes a second 250 ms after it ends)
    local t0 drained=""
    t0=$(now_ms)
    sleep 1.5
    for ((k = 0; k < 100; k++)); do
        read -r p_ a_ < <(consumer_pending)
        if [[ $p_ == 0 && $a_ == 0 ]] && rollups_stored; then
            drained=$((($(now_ms) - t0) / 1000))
            break
        fi
        sleep 0.2
    done
    [[ -n $drained ]] || { ok=0; why+=" rollups-not-stored($STORED)"; drained=">20"; }
    local use="" s
    for s in generator collector aggregator nats-server; do # % of one CPU over the step
        use+=" ${s%%-*}=$(((b[cpu_$s] - a[cpu_$s]) * 100000 / TCK / dt))%"
    done
    say "$(printf '%s transport=%-9s rate=%-7d generator=%-7d collector=%-7d aggregator=%-7d dropped=%d backlog_end=%s sustained=%s drain_s=%s cpu:%s%s' \
        "${measure:-step}" "$t" "$rate" "$g" "$c" "$ag" "$dr" "$pend1" "$([[ $ok == 1 ]] && echo yes || echo no)" "$drained" "$use" "${why:+ ($why )}")"
    if [[ -n $measure ]]; then
        local ticks=$((b[agg] - a[agg]))
        [[ -s $MF_TMP/probe-$t.out ]] && say "latency transport=$t $(cat "$MF_TMP/probe-$t.out")"
        for s in generator "${SERVICES[@]}"; do
            [[ -n ${a[cpu_$s]:-} ]] || continue
            say "$(printf 'cpu transport=%s service=%-11s cpu_s=%.2f cpu_s_per_million_ticks=%.2f' "$t" "$s" \
                "$(echo "(${b[cpu_$s]} - ${a[cpu_$s]}) / $TCK" | bc -l)" \
                "$(echo "(${b[cpu_$s]} - ${a[cpu_$s]}) / $TCK / $ticks * 1000000" | bc -l)")"
        done
    fi
    ((ok == 1))
}

run_transport() { # run_transport TRANSPORT RATES...
    local t=$1 r s k
    shift
    start_stack "$t"
    BEST=0
    for r in "$@"; do # a step that fails is tried once more (other jobs share the CPUs)
        if step "$t" "$r" || step "$t" "$r"; then BEST=$r; else break; fi
    done
    for ((k = 0; k < 300; k++)); do # the last (failed) step's backlog, before measuring
        [[ $(consumer_pending) == "0 0" ]] && break
        sleep 0.2
    done
    step "$t" 50000 latency || true
    say "best transport=$t sustained_ticks_per_s=$BEST"
    eval "BEST_${t}=$BEST"
    for s in collector aggregator pers-pg pers-redis api nats-server; do
        say "rss transport=$t service=$s peak_rss_mib=$(hwm_mib "$(mf_pid "$s")")"
    done
    stop_stack
}

BEST_core=- BEST_jetstream=-
say "# e2e bench $(date -u +%FT%TZ) nproc=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg) build=$BUILD_DIR"

# ---- 1. raw limit ---------------------------------------------------------------------------
mf_start_nats
# As the NATS user "bench", the only one allowed the raw subjects and stream (lib.sh).
say "$(mf_as bench "$BENCH" raw-core 4 2>>"$MF_TMP/bench.err")"
say "$(mf_as bench "$BENCH" raw-js 8 2>>"$MF_TMP/bench.err")"
RAW_CORE=$(awk '/^raw_core/ {for (i = 1; i <= NF; i++) if ($i ~ /^msgs_per_s=/) print substr($i, 12)}' "$OUT")
RAW_JS_FLOOD=$(awk '/^raw_js/ {for (i = 1; i <= NF; i++) if ($i ~ /^msgs_per_s=/) print substr($i, 12)}' "$OUT")
# The bare JetStream pair under the pipeline's own criterion: paced at rising rates, sustained
# when both stored and consumed reach 95% of the rate and the backlog ends under 0.5 s worth.
# (Flooded, the publisher starves the consumer: consumed/s then says little about capacity.)
RAW_JS=0
for r in $RAW_JS_RATES; do
    line=$(mf_as bench "$BENCH" raw-js 5 "$r" 2>>"$MF_TMP/bench.err")
    ok=$(awk -v r="$r" '{for (i = 1; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}}
        END {print (v["stored_per_s"] >= r * 0.95 && v["consumed_per_s"] >= r * 0.95 &&
                    v["backlog_at_end"] <= r / 2) ? "yes" : "no"}' <<<"$line")
    say "$line sustained=$ok"
    [[ $ok == yes ]] || break
    RAW_JS=$r
done
mf_stop_nats
rm -rf "$MF_TMP/nats"

# ---- 2-4. pipeline --------------------------------------------------------------------------
mf_start_redis
mf_start_postgres
for t in $TRANSPORTS; do
    case $t in
    core) run_transport core $CORE_RATES ;;
    jetstream) run_transport jetstream $JS_RATES ;;
    *) mf_fail "TRANSPORTS: unknown transport $t" ;;
    esac
done

# ---- 4b. aggregator RSS with 10,000 symbols x 3 exchanges -----------------------------------
if [[ -z ${SKIP_RSS:-} ]]; then
    AGG_BENCH=rss bash "$SOURCE_DIR/bench/aggregator_bench.sh" 1000 2>/dev/null | grep '^rss' |
        sed 's/^/aggregator_10k /' | tee -a "$OUT" || true
fi

# ---- results table --------------------------------------------------------------------------
field() { # field LINE_PREFIX_REGEX KEY
    awk -v re="$1" -v k="$2=" '$0 ~ re {for (i = 1; i <= NF; i++) if (index($i, k) == 1) print substr($i, length(k) + 1)}' "$OUT" | tail -1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "?"}'; }
echo
echo "## results ($(nproc) cpus, load at start $(head -1 "$OUT" | sed 's/.*load=\([^ ]*\).*/\1/'), $((SECONDS - T_START)) s)"
echo
echo "| what | core | jetstream |"
echo "|---|---|---|"
echo "| raw limit, msgs/s (core: pub->sub; jetstream: bare pub+pull consumer, highest sustained rate) | $RAW_CORE | $RAW_JS |"
echo "| bare JetStream pair flooded (publisher unpaced): consumed msgs/s | | $RAW_JS_FLOOD |"
echo "| pipeline, highest sustained ticks/s | $BEST_core | $BEST_jetstream |"
echo "| ratio to the raw limit (target core >= 0.5, jetstream >= 0.8) | $(ratio "$BEST_core" "$RAW_CORE") | $(ratio "$BEST_jetstream" "$RAW_JS") |"
for pc in p50 p99 max; do
    echo "| latency at 50k/s, tick -> GET /prices/latest, covered $pc ms | $(field '^latency transport=core' covered_${pc}_ms) | $(field '^latency transport=jetstream' covered_${pc}_ms) |"
done
echo "| same, visible (the shown tick's own age) p99 ms | $(field '^latency transport=core' visible_p99_ms) | $(field '^latency transport=jetstream' visible_p99_ms) |"
for s in generator collector aggregator pers-pg pers-redis api nats-server redis-server postgres; do
    echo "| $s CPU s per million ticks (50k/s step) | $(field "^cpu transport=core service=$s " cpu_s_per_million_ticks) | $(field "^cpu transport=jetstream service=$s " cpu_s_per_million_ticks) |"
done
for s in collector aggregator pers-pg pers-redis api nats-server; do
    echo "| $s peak RSS MiB | $(field "^rss transport=core service=$s " peak_rss_mib) | $(field "^rss transport=jetstream service=$s " peak_rss_mib) |"
done
echo "| aggregator RSS, 10,000 symbols x 3 exchanges (jetstream) | | $(grep -o 'VmHWM: [0-9]* kB' "$OUT" | head -1) |"
