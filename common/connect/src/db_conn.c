/* db_conn.c: reconnect pacing shared by the connectors (see db_conn.h). */
#include "mf/db_conn.h"

#include "mf/util.h"

int mf_db_retry_due(const mf_db_retry *r, int64_t now_mono) {
    return r->failures == 0 || now_mono >= r->retry_at;
}

void mf_db_retry_failed(mf_db_retry *r, int64_t now_mono) {
    r->retry_at = now_mono + mf_backoff_ms(r->failures, MF_DB_RETRY_BASE_MS, MF_DB_RETRY_CAP_MS);
    if (r->failures < 1000) r->failures++; /* the delay is capped long before */
}

int mf_db_retry_ok(mf_db_retry *r) {
    int before = r->failures;
    r->failures = 0;
    r->retry_at = 0;
    return before;
}
