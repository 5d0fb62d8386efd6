/* store_pg.c: the PostgreSQL adapter of the price store (libpq, pooled, parameterised).
 *
 * Reads the minute rows of aggregated_prices (owned by the persister). Sums stay exact:
 * price_sum is NUMERIC, the database adds the rows' sums and the caller's exact Redis part
 * (passed as a decimal built by mf_xsum_to_decimal), and the total comes back as text that
 * strtod rounds correctly, so average = that / count equals math.fsum(prices) / count.
 * Extremes are chosen in SQL with the tie rules of agg.h (ts, then exchange in "C" order). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf/config.h"
#include "mf/log.h"
#include "mf/pg_conn.h"
#include "mf/util.h"
#include "pool.h"
#include "store.h"

#define WAIT_MS 2000

typedef struct pg_impl {
    api_pool *pool;
    const mf_config *cfg;
} pg_impl;

static const char *SQL_RANGE =
    "WITH r AS (SELECT exchange, tick_count, price_sum, min_price, min_ts, max_price, max_ts"
    " FROM aggregated_prices WHERE pair_name = $1 AND ($2 = '' OR exchange = $2)"
    " AND \"timestamp\" >= to_timestamp($3::bigint / 1000.0)"
    " AND \"timestamp\" < to_timestamp($4::bigint / 1000.0) AND tick_count > 0)"
    " SELECT (SELECT coalesce(sum(tick_count), 0) FROM r)::text,"
    " ((SELECT coalesce(sum(price_sum), 0) FROM r) + $5::numeric)::text,"
    " mn.exchange, mn.min_price, mn.min_ts, mx.exchange, mx.max_price, mx.max_ts"
    " FROM (SELECT 1) one"
    " LEFT JOIN LATERAL (SELECT exchange, min_price, min_ts FROM r"
    "   ORDER BY min_price, min_ts, exchange COLLATE \"C\" LIMIT 1) mn ON true"
    " LEFT JOIN LATERAL (SELECT exchange, max_price, max_ts FROM r"
    "   ORDER BY max_price DESC, max_ts, exchange COLLATE \"C\" LIMIT 1) mx ON true";

static const char *SQL_LATEST =
    "SELECT exchange, close_price, close_ts FROM aggregated_prices"
    " WHERE pair_name = $1 AND ($2 = '' OR exchange = $2) AND tick_count > 0"
    " ORDER BY \"timestamp\" DESC, close_ts DESC, exchange COLLATE \"C\" LIMIT 1";

/* statement_timeout: a request never waits on a runaway query for longer than this. */
static void *pg_connect(void *ctx) {
    pg_impl *im = ctx;
    char err[512];
    PGconn *c = NULL;
    if (mf_pg_connect(&c, im->cfg, "marketflow-api", "-c statement_timeout=10000", err,
                      sizeof(err)) != MF_OK)
        mf_log_ratelimited(MF_LOG_WARN, 5000, "postgres connect failed host=%s port=%d: %s",
                           im->cfg->postgres.host, im->cfg->postgres.port, err);
    return c;
}

static void pg_close(void *c) {
    PQfinish(c);
}

static int pg_up(api_store *s) {
    return api_pool_up(((pg_impl *)s->impl)->pool);
}

/* Runs a query. On MF_OK *res is the result (caller PQclear). A missing table (42P01: the
 * persister has not migrated yet) is MF_ERR_NOT_FOUND; other failures MF_ERR_DB. */
static mf_status
run(pg_impl *im, const char *sql, int n, const char *const *params, PGresult **res) {
    PGconn *c;
    PGresult *r;
    const char *state;
    mf_status st = api_pool_get(im->pool, (void **)&c, WAIT_MS);
    if (st != MF_OK) return st == MF_ERR_TIMEOUT ? MF_ERR_DB : st;
    r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK) {
        api_pool_put(im->pool, c, 0);
        *res = r;
        return MF_OK;
    }
    state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state && strcmp(state, "42P01") == 0) {
        api_pool_put(im->pool, c, 0);
        PQclear(r);
        return MF_ERR_NOT_FOUND;
    }
    mf_log_ratelimited(MF_LOG_WARN, 5000, "postgres query failed: %s", PQerrorMessage(c));
    api_pool_put(im->pool, c, PQstatus(c) != CONNECTION_OK);
    PQclear(r);
    return MF_ERR_DB;
}

static mf_status pg_ping(api_store *s) {
    PGresult *r = NULL;
    mf_status st = run(s->impl, "SELECT 1", 0, NULL, &r);
    PQclear(r);
    return st;
}

static const char *one_exchange(const api_query *q) {
    return q->all || q->exchanges->n != 1 ? "" : q->exchanges->name[0];
}

static mf_status pg_latest(api_store *s, const api_query *q, api_latest *out) {
    const char *params[2] = {q->symbol, one_exchange(q)};
    PGresult *r = NULL;
    mf_status st = run(s->impl, SQL_LATEST, 2, params, &r);
    if (st != MF_OK) return st;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return MF_ERR_NOT_FOUND;
    }
    mf_strlcpy(out->exchange, PQgetvalue(r, 0, 0), sizeof(out->exchange));
    mf_strlcpy(out->symbol, q->symbol, sizeof(out->symbol));
    out->price = strtod(PQgetvalue(r, 0, 1), NULL);
    out->ts = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    PQclear(r);
    return MF_OK;
}

static void fill_range(PGresult *r, api_agg *out) {
    int64_t count = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    out->sum_final = 1;
    out->sum_value = strtod(PQgetvalue(r, 0, 1), NULL); /* glibc strtod: correctly rounded */
    if (count <= 0 || PQgetisnull(r, 0, 2) || PQgetisnull(r, 0, 5)) return;
    out->st.count = count;
    mf_strlcpy(out->min_exchange, PQgetvalue(r, 0, 2), sizeof(out->min_exchange));
    out->st.min = strtod(PQgetvalue(r, 0, 3), NULL);
    out->st.min_ts = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
    mf_strlcpy(out->max_exchange, PQgetvalue(r, 0, 5), sizeof(out->max_exchange));
    out->st.max = strtod(PQgetvalue(r, 0, 6), NULL);
    out->st.max_ts = strtoll(PQgetvalue(r, 0, 7), NULL, 10);
}

static mf_status pg_range(api_store *s, const api_query *q, const mf_xsum *plus, api_agg *out) {
    char from[24], to[24], dec[1500];
    const char *params[5];
    PGresult *r = NULL;
    mf_xsum zero;
    mf_status st;
    mf_xsum_init(&zero);
    if (mf_xsum_to_decimal(plus ? plus : &zero, dec, sizeof(dec)) < 0) return MF_ERR_DB;
    snprintf(from, sizeof(from), "%lld", (long long)q->from);
    snprintf(to, sizeof(to), "%lld", (long long)q->to);
    params[0] = q->symbol;
    params[1] = one_exchange(q);
    params[2] = from;
    params[3] = to;
    params[4] = dec;
    api_agg_init(out);
    st = run(s->impl, SQL_RANGE, 5, params, &r);
    if (st == MF_ERR_NOT_FOUND) { /* no table yet: no rows */
        out->sum_final = 1;
        out->sum_value = mf_xsum_value(plus ? plus : &zero);
        return MF_OK;
    }
    if (st != MF_OK) return st;
    if (PQntuples(r) == 1) fill_range(r, out);
    PQclear(r);
    return MF_OK;
}

static mf_status pg_exchanges(api_store *s, api_names *out) {
    PGresult *r = NULL;
    mf_status st = run(s->impl, "SELECT DISTINCT exchange FROM aggregated_prices", 0, NULL, &r);
    if (st == MF_ERR_NOT_FOUND) return MF_OK;
    if (st != MF_OK) return st;
    for (int i = 0; i < PQntuples(r); i++)
        if (mf_token_valid(PQgetvalue(r, i, 0))) api_names_add(out, PQgetvalue(r, i, 0));
    PQclear(r);
    return MF_OK;
}

static void pg_destroy(api_store *s) {
    if (s == NULL) return;
    pg_impl *im = s->impl;
    api_pool_destroy(im->pool);
    free(im);
    free(s);
}

static const api_store_ops pg_ops = {
    .name = "postgres",
    .up = pg_up,
    .ping = pg_ping,
    .latest = pg_latest,
    .range = pg_range,
    .exchanges = pg_exchanges,
    .destroy = pg_destroy,
};

api_store *api_store_pg_create(const mf_config *cfg, int pool_size) {
    api_store *s = mf_xcalloc(1, sizeof(*s));
    pg_impl *im = mf_xcalloc(1, sizeof(*im));
    im->cfg = cfg;
    im->pool = api_pool_create(pool_size, pg_connect, pg_close, im, "postgres");
    s->ops = &pg_ops;
    s->impl = im;
    return s;
}
