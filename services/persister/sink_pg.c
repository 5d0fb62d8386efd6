/* sink_pg.c: PostgreSQL adapter of the persister's sink port.
 *
 * DESIGN: used by the core thread only (ensure, write, idle); the heartbeat thread reads the
 * atomics in fill_status. One libpq connection, opened lazily by ensure(): connect, apply
 * migrations (advisory lock), create the session temp table mf_stage. Any connection
 * failure drops the connection; the core backs off and calls ensure() + write() again with
 * the same batch, which is harmless because applied_partials makes every merge idempotent.
 * Only parameterised SQL and COPY carry data: no value is ever formatted into SQL text.
 *
 * One transaction per batch: COPY the (producer, seq) pairs into mf_ledger; INSERT them into
 * applied_partials ON CONFLICT DO NOTHING RETURNING the pairs recorded now; merge only those
 * partials per minute in C (mf_rollup_merge: exact); COPY the minute deltas into mf_minute;
 * one INSERT ... ON CONFLICT DO UPDATE merges them into aggregated_prices; COMMIT. */
#include "sink_pg.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "migrate.h"
#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/pg_conn.h"
#include "mf/tick.h"
#include "mf/util.h"

#define PRUNE_EVERY_MS (5 * 60 * 1000)
#define PRUNE_AGE_S "7200" /* the stream keeps 1 h: no redelivery can be older */

typedef struct pg_sink {
    const mf_config *cfg; /* borrowed: the service's, read-only after start */
    char migrations_dir[1024];
    PGconn *conn;
    int ready;          /* connected, migrated, temp table created */
    int down_logged;    /* one "down" line per outage */
    int64_t next_prune; /* monotonic ms */
    char *copybuf;
    size_t copycap;
    mf_rollup *minutes; /* pre-merged minute deltas of the batch */
    size_t mincap;
    atomic_int connected;
    atomic_llong *errors;
    atomic_llong *reconnects;
    atomic_llong *pruned;
} pg_sink;

/* Session temp tables, emptied by every COMMIT (and ROLLBACK). */
static const char *STAGE_SQL[] = {
    "CREATE TEMP TABLE IF NOT EXISTS mf_ledger (producer text, seq bigint, minute timestamptz)"
    " ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS mf_minute (exchange text, pair_name text,"
    " minute timestamptz, cnt bigint, psum numeric, min_price float8, min_ts bigint,"
    " max_price float8, max_ts bigint, open_price float8, open_ts bigint, open_id bigint,"
    " close_price float8, close_ts bigint, close_id bigint, volume numeric, notional numeric)"
    " ON COMMIT DELETE ROWS",
};

/* Records the batch's (producer, seq) pairs, ordered so that two replicas lock in the same
 * order; returns those recorded now, the only ones this transaction may merge. */
static const char *LEDGER_SQL =
    "INSERT INTO applied_partials (producer, seq, minute)"
    " SELECT producer, seq, minute FROM mf_ledger ORDER BY producer, seq"
    " ON CONFLICT DO NOTHING RETURNING producer, seq";

/* Merges the minute deltas (pre-merged in C from the fresh partials) into the table with the
 * rules of common/src/rollup.c: exact NUMERIC sums, min/max ties to the earlier ts,
 * open/close by (ts, id, price); average recomputed from the exact sum. */
static const char *UPSERT_SQL =
    "INSERT INTO aggregated_prices AS t (exchange, pair_name, \"timestamp\", average_price,"
    " min_price, max_price, tick_count, price_sum, open_price, open_ts, open_id, close_price,"
    " close_ts, close_id, min_ts, max_ts, volume, notional, updated_at)"
    " SELECT exchange, pair_name, minute, psum::float8 / cnt::float8, min_price, max_price,"
    " cnt, psum, open_price, open_ts, open_id, close_price, close_ts, close_id, min_ts,"
    " max_ts, volume, notional, now()"
    " FROM mf_minute ORDER BY exchange, pair_name, minute"
    " ON CONFLICT (exchange, pair_name, \"timestamp\") DO UPDATE SET"
    " tick_count = t.tick_count + EXCLUDED.tick_count,"
    " price_sum = t.price_sum + EXCLUDED.price_sum,"
    " average_price = (t.price_sum + EXCLUDED.price_sum)::float8"
    "  / (t.tick_count + EXCLUDED.tick_count)::float8,"
    " min_price = CASE WHEN (EXCLUDED.min_price, EXCLUDED.min_ts) < (t.min_price, t.min_ts)"
    "  THEN EXCLUDED.min_price ELSE t.min_price END,"
    " min_ts = CASE WHEN (EXCLUDED.min_price, EXCLUDED.min_ts) < (t.min_price, t.min_ts)"
    "  THEN EXCLUDED.min_ts ELSE t.min_ts END,"
    " max_price = CASE WHEN EXCLUDED.max_price > t.max_price OR"
    "  (EXCLUDED.max_price = t.max_price AND EXCLUDED.max_ts < t.max_ts)"
    "  THEN EXCLUDED.max_price ELSE t.max_price END,"
    " max_ts = CASE WHEN EXCLUDED.max_price > t.max_price OR"
    "  (EXCLUDED.max_price = t.max_price AND EXCLUDED.max_ts < t.max_ts)"
    "  THEN EXCLUDED.max_ts ELSE t.max_ts END,"
    " open_price = CASE WHEN (EXCLUDED.open_ts, EXCLUDED.open_id, EXCLUDED.open_price)"
    "  < (t.open_ts, t.open_id, t.open_price) THEN EXCLUDED.open_price ELSE t.open_price END,"
    " open_id = CASE WHEN (EXCLUDED.open_ts, EXCLUDED.open_id, EXCLUDED.open_price)"
    "  < (t.open_ts, t.open_id, t.open_price) THEN EXCLUDED.open_id ELSE t.open_id END,"
    " open_ts = CASE WHEN (EXCLUDED.open_ts, EXCLUDED.open_id, EXCLUDED.open_price)"
    "  < (t.open_ts, t.open_id, t.open_price) THEN EXCLUDED.open_ts ELSE t.open_ts END,"
    " close_price = CASE WHEN (EXCLUDED.close_ts, EXCLUDED.close_id, EXCLUDED.close_price)"
    "  > (t.close_ts, t.close_id, t.close_price) THEN EXCLUDED.close_price"
    "  ELSE t.close_price END,"
    " close_id = CASE WHEN (EXCLUDED.close_ts, EXCLUDED.close_id, EXCLUDED.close_price)"
    "  > (t.close_ts, t.close_id, t.close_price) THEN EXCLUDED.close_id ELSE t.close_id END,"
    " close_ts = CASE WHEN (EXCLUDED.close_ts, EXCLUDED.close_id, EXCLUDED.close_price)"
    "  > (t.close_ts, t.close_id, t.close_price) THEN EXCLUDED.close_ts ELSE t.close_ts END,"
    " volume = t.volume + EXCLUDED.volume,"
    " notional = t.notional + EXCLUDED.notional,"
    " updated_at = now()";

/* ---- COPY rows --------------------------------------------------------------------------- */

int pers_pg_copy_escape(const char *s, char *buf, size_t size) {
    size_t n = 0;
    for (; *s; s++) {
        const char *rep = NULL;
        char one[2] = {*s, '\0'};
        switch (*s) {
        case '\\': rep = "\\\\"; break;
        case '\t': rep = "\\t"; break;
        case '\n': rep = "\\n"; break;
        case '\r': rep = "\\r"; break;
        default: rep = one;
        }
        for (; *rep; rep++) {
            if (n + 1 >= size) return -1;
            buf[n++] = *rep;
        }
    }
    if (n >= size) return -1;
    buf[n] = '\0';
    return (int)n;
}

int pers_pg_timestamp(int64_t ms, char *buf, size_t size) {
    int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int msec = (int)(ms - sec * 1000);
    time_t t = (time_t)sec;
    struct tm tm;
    int k;
    if (gmtime_r(&t, &tm) == NULL) return -1;
    k = snprintf(buf, size, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, msec);
    return (k < 0 || (size_t)k >= size) ? -1 : k;
}

#define DEC_MAX 1600 /* mf_xsum_to_decimal of any realistic sum */

int pers_pg_ledger_row(const mf_rollup *r, char *buf, size_t size) {
    char producer[256], minute[48];
    int k;
    if (pers_pg_copy_escape(r->producer, producer, sizeof(producer)) < 0 ||
        pers_pg_timestamp(mf_window_start(r->start, MF_WIN_1M), minute, sizeof(minute)) < 0)
        return -1;
    k = snprintf(buf, size, "%s\t%" PRId64 "\t%s\n", producer, (int64_t)r->seq, minute);
    return (k < 0 || (size_t)k >= size) ? -1 : k;
}

int pers_pg_minute_row(const mf_rollup *m, char *buf, size_t size) {
    char minute[48], sum[DEC_MAX], vol[DEC_MAX], notional[DEC_MAX];
    char mn[32], mx[32], op[32], cl[32];
    int k;
    if (pers_pg_timestamp(mf_window_start(m->start, MF_WIN_1M), minute, sizeof(minute)) < 0 ||
        mf_xsum_to_decimal(&m->st.sum, sum, sizeof(sum)) < 0 ||
        mf_xsum_to_decimal(&m->st.volume, vol, sizeof(vol)) < 0 ||
        mf_xsum_to_decimal(&m->st.notional, notional, sizeof(notional)) < 0)
        return -1;
    snprintf(mn, sizeof(mn), "%.17g", m->st.min);
    snprintf(mx, sizeof(mx), "%.17g", m->st.max);
    snprintf(op, sizeof(op), "%.17g", m->st.open);
    snprintf(cl, sizeof(cl), "%.17g", m->st.close);
    k = snprintf(buf, size,
                 "%s\t%s\t%s\t%" PRId64 "\t%s\t%s\t%" PRId64 "\t%s\t%" PRId64 "\t%s\t%" PRId64
                 "\t%" PRId64 "\t%s\t%" PRId64 "\t%" PRId64 "\t%s\t%s\n",
                 m->exchange, m->symbol, minute, m->st.count, sum, mn, m->st.min_ts, mx,
                 m->st.max_ts, op, m->st.open_ts, m->st.open_id, cl, m->st.close_ts, m->st.close_id,
                 vol, notional);
    return (k < 0 || (size_t)k >= size) ? -1 : k;
}

static int cmp_ident(const mf_rollup *r, const char *producer, uint64_t seq) {
    int c = strcmp(r->producer, producer);
    if (c != 0) return c;
    return r->seq < seq ? -1 : (r->seq > seq ? 1 : 0);
}

/* Index of (producer, seq) in rs[n] (sorted by pers_dedupe), or -1. */
static long find_partial(const mf_rollup *rs, size_t n, const char *producer, uint64_t seq) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_ident(&rs[mid], producer, seq);
        if (c == 0) return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int cmp_minute_key(const void *pa, const void *pb, void *ctx) {
    const mf_rollup *base = ctx;
    const mf_rollup *a = &base[*(const size_t *)pa], *b = &base[*(const size_t *)pb];
    int c = strcmp(a->exchange, b->exchange);
    int64_t ma, mb;
    if (c != 0) return c;
    c = strcmp(a->symbol, b->symbol);
    if (c != 0) return c;
    ma = mf_window_start(a->start, MF_WIN_1M);
    mb = mf_window_start(b->start, MF_WIN_1M);
    return ma < mb ? -1 : (ma > mb);
}

size_t pers_pg_premerge(const mf_rollup *rs, const unsigned char *fresh, size_t n, mf_rollup *out) {
    size_t *idx = mf_xmalloc((n ? n : 1) * sizeof(*idx)), k = 0, m = 0;
    for (size_t i = 0; i < n; i++)
        if (fresh == NULL || fresh[i]) idx[k++] = i;
    qsort_r(idx, k, sizeof(*idx), cmp_minute_key, (void *)rs);
    for (size_t i = 0; i < k; i++) {
        mf_rollup one = rs[idx[i]];
        one.window = MF_WIN_1M; /* a 1 s partial is a partial of its minute */
        one.start = mf_window_start(one.start, MF_WIN_1M);
        if (m > 0 && cmp_minute_key(&idx[i - 1], &idx[i], (void *)rs) == 0) {
            mf_status s = mf_rollup_merge(&out[m - 1], &one);
            MF_ASSERT(s == MF_OK);
        } else {
            out[m++] = one;
        }
    }
    free(idx);
    return m;
}

/* ---- connection ----------------------------------------------------------------------- */

static void drop_conn(pg_sink *p) {
    if (p->conn) PQfinish(p->conn);
    p->conn = NULL;
    p->ready = 0;
    atomic_store(&p->connected, 0);
}

/* Logs a failure (the first of an outage as a warning, later ones rate-limited) and
 * classifies it: MF_ERR_PARSE when the server rejected the data itself (SQLSTATE class 22)
 * on a healthy connection, else MF_ERR_DB (retry). */
static mf_status fail(pg_sink *p, PGresult *r, const char *what) {
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int data_error = state != NULL && strncmp(state, "22", 2) == 0;
    const char *raw = r ? PQresultErrorMessage(r) : "";
    char msg[512];
    if (raw[0] == '\0' && p->conn) raw = PQerrorMessage(p->conn);
    mf_pg_error_line(raw, msg, sizeof(msg));
    atomic_fetch_add(p->errors, 1);
    if (!p->down_logged || data_error) {
        mf_log(MF_LOG_WARN, "postgres %s failed sqlstate=%s: %s", what, state ? state : "-", msg);
        p->down_logged = 1;
    } else {
        mf_log_ratelimited(MF_LOG_WARN, 10000, "postgres %s still failing: %s", what, msg);
    }
    PQclear(r);
    if (p->conn == NULL || PQstatus(p->conn) != CONNECTION_OK) {
        drop_conn(p);
        return MF_ERR_DB;
    }
    PQclear(PQexec(p->conn, "ROLLBACK"));
    return data_error ? MF_ERR_PARSE : MF_ERR_DB;
}

static mf_status exec_cmd(pg_sink *p, const char *sql, ExecStatusType want, const char *what) {
    PGresult *r = PQexecParams(p->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
    if (PQresultStatus(r) != want) return fail(p, r, what);
    PQclear(r);
    return MF_OK;
}

static mf_status pg_connect(pg_sink *p) {
    char err[512];
    int applied = 0;
    if (mf_pg_connect(&p->conn, p->cfg, "marketflow-persister", NULL, err, sizeof(err)) != MF_OK) {
        if (!p->down_logged)
            mf_log(MF_LOG_WARN, "postgres not reachable host=%s port=%d: %.300s; retrying",
                   p->cfg->postgres.host, p->cfg->postgres.port, err);
        p->down_logged = 1;
        atomic_fetch_add(p->errors, 1);
        drop_conn(p);
        return MF_ERR_DB;
    }
    if (pers_migrate(p->conn, p->migrations_dir, &applied) != MF_OK) {
        atomic_fetch_add(p->errors, 1);
        drop_conn(p);
        return MF_ERR_DB;
    }
    for (size_t i = 0; i < sizeof(STAGE_SQL) / sizeof(STAGE_SQL[0]); i++) {
        if (exec_cmd(p, STAGE_SQL[i], PGRES_COMMAND_OK, "create stage table") != MF_OK) {
            drop_conn(p);
            return MF_ERR_DB;
        }
    }
    p->ready = 1;
    p->down_logged = 0;
    atomic_store(&p->connected, 1);
    atomic_fetch_add(p->reconnects, 1);
    mf_log(MF_LOG_INFO, "postgres connected host=%s port=%d db=%s migrations_applied=%d",
           p->cfg->postgres.host, p->cfg->postgres.port, p->cfg->postgres.dbname, applied);
    return MF_OK;
}

static mf_status pg_ensure(void *impl) {
    pg_sink *p = impl;
    if (p->ready && PQstatus(p->conn) == CONNECTION_OK) return MF_OK;
    drop_conn(p);
    return pg_connect(p);
}

static int pg_connected(void *impl) {
    pg_sink *p = impl;
    return atomic_load(&p->connected);
}

/* ---- write ------------------------------------------------------------------------------ */

static void reserve(pg_sink *p, size_t used) {
    if (p->copycap - used >= 8192) return;
    p->copycap = p->copycap * 2 + 65536;
    p->copybuf = mf_xrealloc(p->copybuf, p->copycap);
}

/* Formats rows[n] with `fmt` into the COPY buffer. MF_ERR_PARSE when one does not fit. */
static mf_status build_copy(pg_sink *p,
                            const mf_rollup *rows,
                            size_t n,
                            int (*fmt)(const mf_rollup *, char *, size_t),
                            size_t *len) {
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        int k;
        reserve(p, used);
        k = fmt(&rows[i], p->copybuf + used, p->copycap - used);
        if (k < 0) {
            mf_log_ratelimited(MF_LOG_WARN, 10000, "postgres: partial too large for a COPY row");
            return MF_ERR_PARSE;
        }
        used += (size_t)k;
    }
    *len = used;
    return MF_OK;
}

static mf_status copy_in(pg_sink *p, const char *sql, size_t len) {
    PGresult *r = PQexec(p->conn, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) return fail(p, r, "copy start");
    PQclear(r);
    if (PQputCopyData(p->conn, p->copybuf, (int)len) != 1 || PQputCopyEnd(p->conn, NULL) != 1)
        return fail(p, NULL, "copy data");
    r = PQgetResult(p->conn);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        PGresult *rest;
        while ((rest = PQgetResult(p->conn)) != NULL) PQclear(rest);
        return fail(p, r, "copy");
    }
    PQclear(r);
    while ((r = PQgetResult(p->conn)) != NULL) PQclear(r);
    return MF_OK;
}

/* Records the batch in applied_partials; marks fresh[i] for the partials recorded now. */
static mf_status
record_ledger(pg_sink *p, const mf_rollup *rs, size_t n, unsigned char *fresh, int64_t *nfresh) {
    size_t len = 0;
    PGresult *r;
    mf_status s = build_copy(p, rs, n, pers_pg_ledger_row, &len);
    if (s == MF_OK) s = copy_in(p, "COPY mf_ledger FROM STDIN", len);
    if (s != MF_OK) return s;
    r = PQexecParams(p->conn, LEDGER_SQL, 0, NULL, NULL, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return fail(p, r, "ledger");
    memset(fresh, 0, n);
    *nfresh = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        long at = find_partial(rs, n, PQgetvalue(r, i, 0),
                               (uint64_t)strtoull(PQgetvalue(r, i, 1), NULL, 10));
        if (at >= 0 && !fresh[at]) fresh[at] = 1, (*nfresh)++;
    }
    PQclear(r);
    return MF_OK;
}

/* Merges the fresh partials per minute in C (exact) and upserts the minute deltas. */
static mf_status upsert_minutes(pg_sink *p,
                                const mf_rollup *rs,
                                size_t n,
                                const unsigned char *fresh,
                                int64_t *rows) {
    size_t m, len = 0;
    PGresult *r;
    mf_status s;
    if (p->mincap < n) {
        p->mincap = n;
        p->minutes = mf_xrealloc(p->minutes, n * sizeof(*p->minutes));
    }
    m = pers_pg_premerge(rs, fresh, n, p->minutes);
    s = build_copy(p, p->minutes, m, pers_pg_minute_row, &len);
    if (s == MF_OK) s = copy_in(p, "COPY mf_minute FROM STDIN", len);
    if (s != MF_OK) return s;
    r = PQexecParams(p->conn, UPSERT_SQL, 0, NULL, NULL, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) return fail(p, r, "upsert");
    *rows = atoll(PQcmdTuples(r));
    PQclear(r);
    return MF_OK;
}

static mf_status pg_write(void *impl, const mf_rollup *rs, size_t n, pers_result *res) {
    pg_sink *p = impl;
    unsigned char *fresh;
    mf_status s;
    memset(res, 0, sizeof(*res));
    if (n == 0) return MF_OK;
    if (!p->ready) return MF_ERR_DB;
    fresh = mf_xmalloc(n);
    s = exec_cmd(p, "BEGIN", PGRES_COMMAND_OK, "begin");
    if (s == MF_OK) s = record_ledger(p, rs, n, fresh, &res->applied);
    if (s == MF_OK && res->applied > 0) s = upsert_minutes(p, rs, n, fresh, &res->rows);
    if (s == MF_OK) s = exec_cmd(p, "COMMIT", PGRES_COMMAND_OK, "commit");
    free(fresh);
    if (s != MF_OK) {
        if (s == MF_ERR_PARSE && p->conn) PQclear(PQexec(p->conn, "ROLLBACK"));
        memset(res, 0, sizeof(*res));
        return s;
    }
    res->duplicates = (int64_t)n - res->applied;
    p->down_logged = 0;
    return MF_OK;
}

/* Deletes ledger rows older than any possible redelivery, every few minutes. */
static void pg_idle(void *impl) {
    pg_sink *p = impl;
    const char *params[1] = {PRUNE_AGE_S};
    PGresult *r;
    int64_t now = mf_mono_ms();
    if (!p->ready || now < p->next_prune) return;
    p->next_prune = now + PRUNE_EVERY_MS;
    r = PQexecParams(p->conn,
                     "DELETE FROM applied_partials "
                     "WHERE applied_at < now() - make_interval(secs => $1::float8)",
                     1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fail(p, r, "prune");
        return;
    }
    atomic_fetch_add(p->pruned, atoll(PQcmdTuples(r)));
    PQclear(r);
}

static void pg_fill_status(void *impl, json_t *o) {
    pg_sink *p = impl;
    json_object_set_new(o, "db", json_string("postgres"));
    json_object_set_new(o, "db_errors", json_integer(atomic_load(p->errors)));
    json_object_set_new(o, "ledger_pruned", json_integer(atomic_load(p->pruned)));
}

static void pg_destroy(void *impl) {
    pg_sink *p = impl;
    if (p == NULL) return;
    drop_conn(p);
    free(p->copybuf);
    free(p->minutes);
    free(p);
}

static const pers_sink_ops pg_ops = {
    .name = "postgres",
    .ensure = pg_ensure,
    .write = pg_write,
    .connected = pg_connected,
    .idle = pg_idle,
    .fill_status = pg_fill_status,
    .destroy = pg_destroy,
};

mf_status pers_sink_pg_create(pers_sink **out, const mf_config *cfg, const char *migrations_dir) {
    pg_sink *p = mf_xcalloc(1, sizeof(*p));
    pers_sink *s = mf_xcalloc(1, sizeof(*s));
    p->cfg = cfg;
    snprintf(p->migrations_dir, sizeof(p->migrations_dir), "%s", migrations_dir);
    p->next_prune = mf_mono_ms() + 60000;
    p->errors = mf_counter("persister_db_errors_total", "sink=\"postgres\"",
                           "PostgreSQL failures (connect, statement)");
    p->reconnects = mf_counter("persister_db_connects_total", "sink=\"postgres\"",
                               "PostgreSQL (re)connections");
    p->pruned =
        mf_counter("persister_ledger_pruned_total", "", "applied_partials rows deleted by age");
    s->ops = &pg_ops;
    s->impl = p;
    *out = s;
    return MF_OK;
}
