#!/usr/bin/env bash
# persister_pg_outage: the whole pipeline with two PostgreSQL persisters; PostgreSQL is
# stopped for 30 s mid-stream and restarted. The persisters hold their batch and retry
# (never exit, never ack before COMMIT); when the database returns the backlog drains, and
# the final rows are identical to the oracle over the generator's line log, i.e. to a run
# without the outage (persister_pipeline checks that run against the same oracle).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/persister_lib.sh"

pers_stack_start
for p in pg1 pg2; do pers_start "$p" postgres; done
mf_wait_for 30 mf_psql -c "SELECT 1 FROM schema_migrations"
pers_generate 4500 # 90 s

sleep 25
mf_stop_postgres
sleep 30
for p in pg1 pg2; do mf_running "$p" || mf_fail "$p exited while PostgreSQL was down"; done
grep -q "sink postgres unavailable" "$MF_TMP/pg1.log" "$MF_TMP/pg2.log" ||
    mf_fail "no replica noticed the outage"
mf_restart_postgres

mf_wait_exit generator 120 >/dev/null
pers_wait_exact 120 pers_check_pg
for p in pg1 pg2; do
    mf_stop_bg "$p"
    [[ $(mf_exit_code "$p") == 0 ]] || mf_fail "$p exit code $(mf_exit_code "$p")"
done
mf_pass "30 s PostgreSQL outage mid-stream: final rows equal the oracle"
