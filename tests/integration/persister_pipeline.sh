#!/usr/bin/env bash
# persister_pipeline: generator -> collector -> 2 aggregators -> 2 PostgreSQL persisters and
# 2 Redis persisters, ~2 minutes of data. Mid-stream one PostgreSQL replica is killed with
# SIGKILL and restarted, and Redis is stopped for 10 s and restarted (data lost). At the end:
# every minute row equals the oracle over the generator's line log (no double counting by
# the replicas, nothing lost by the kill), and every 1 s bucket in Redis too (the cache is
# complete again after the outage). Status heartbeats carry the documented fields.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/persister_lib.sh"

pers_stack_start
for p in pg1 pg2; do pers_start "$p" postgres; done
for p in rd1 rd2; do pers_start "$p" redis; done
mf_wait_for 30 mf_psql -c "SELECT 1 FROM schema_migrations"
pers_generate 6000 # 120 s

sleep 35
mf_kill9 pg1
sleep 3
pers_start pg1 postgres
sleep 15
mf_stop_redis
sleep 10
mf_restart_redis
"$MFCAT" sub 'marketflow.status.persister.>' --timeout-ms 2600 >"$MF_TMP/status.jsonl" || true

mf_wait_exit generator 150 >/dev/null
pers_wait_exact 90 pers_check_pg
pers_wait_exact 60 pers_check_redis

python3 - "$MF_TMP/status.jsonl" <<'PY' || mf_fail "status check failed"
import json, sys
last = {}
for line in open(sys.argv[1]):
    s = json.loads(line)
    last[s["instance"]] = s
assert {"pg1", "pg2", "rd1", "rd2"} <= set(last), sorted(last)
for s in last.values():
    for f in ("sink", "connected", "batches", "partials_written", "rows_written",
              "duplicates_skipped", "last_commit_ts", "backlog", "errors"):
        assert f in s, "status lacks %s: %s" % (f, s)
print("status ok", {k: (v["sink"], v["partials_written"]) for k, v in sorted(last.items())})
PY
for p in pg1 pg2 rd1 rd2; do
    mf_stop_bg "$p"
    [[ $(mf_exit_code "$p") == 0 ]] || mf_fail "$p exit code $(mf_exit_code "$p")"
done
mf_pass "pipeline: PostgreSQL rows and Redis buckets equal the oracle (kill -9, Redis outage)"
