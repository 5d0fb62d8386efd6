# shellcheck shell=bash
# persister_lib.sh: the whole pipeline for the persister tests (source after lib.sh):
# generator (3 feeds, extended lines, logged) -> collector -> 2 aggregators -> persisters.
MFCAT="$BUILD_DIR/tests/tools/mf-cat"
PCHECK="$SOURCE_DIR/tests/integration/persister_check.py"
[[ -x $MFCAT ]] || mf_fail "mf-cat not built ($MFCAT)"
for svc in generator collector aggregator persister; do
    mf_bin "$svc" >/dev/null 2>&1 || {
        echo "SKIP: marketflow-$svc not built"
        exit 77
    }
done

# pers_stack_start: servers, collector and two aggregators (agg1, agg2).
pers_stack_start() {
    mf_start_nats
    mf_start_postgres
    mf_start_redis
    mf_feeds 3
    export MARKETFLOW_EXCHANGES_MODE=test
    export MARKETFLOW_PERSISTER_FLUSH_MS=500
    mf_start_bg collector "$(mf_bin collector)"
    local a
    for a in agg1 agg2; do
        mf_start_bg "$a" env MARKETFLOW_LOG_INSTANCE="$a" "$(mf_bin aggregator)"
    done
    for a in agg1 agg2; do mf_wait_for 30 grep -q 'consuming' "$MF_TMP/$a.log"; done
}

# pers_start NAME SINK: one persister replica.
pers_start() {
    mf_start_bg "$1" env MARKETFLOW_LOG_INSTANCE="$1" "$(mf_bin persister)" --sink "$2"
}

# pers_generate N: the generator sends N lines per feed (50 lines/s per feed), logged to
# $MF_TMP/sent.log; runs in the background as "generator".
pers_generate() {
    mf_start_bg generator "$(mf_bin generator)" --count "$1" --extended --seed 5 \
        --log "$MF_TMP/sent.log"
}

pers_rows() {
    mf_psql -F'|' -c "SELECT exchange, pair_name,
      (extract(epoch FROM \"timestamp\") * 1000)::bigint, average_price, min_price,
      max_price, tick_count, price_sum, open_price, open_ts, open_id, close_price, close_ts,
      close_id, min_ts, max_ts, volume, notional FROM aggregated_prices ORDER BY 1, 2, 3"
}

# pers_check_pg: the table equals the oracle over the generator log.
pers_check_pg() {
    pers_rows >"$MF_TMP/rows.txt" && python3 "$PCHECK" pg "$MF_TMP/sent.log" <"$MF_TMP/rows.txt"
}

# pers_check_redis: every 1 s bucket of the generator log is cached exactly.
pers_check_redis() {
    python3 "$PCHECK" redis "$MF_REDIS_PORT" 0 "$MF_TMP/sent.log"
}

# pers_wait_exact SECONDS CHECK: waits until CHECK passes, then prints its verdict.
pers_wait_exact() {
    mf_wait_for "$1" "$2"
    "$2" || mf_fail "$2 failed on the final run"
}
