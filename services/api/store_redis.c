/* store_redis.c: the Redis adapter of the price store (hiredis, pooled, pipelined).
 *
 * Reads the keys the persister (--sink redis) writes; their schema is mf/redis_keys.h.
 * A range read is two pipelined rounds: ZRANGEBYSCORE per exchange, then HMGET per bucket. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "mf/config.h"
#include "mf/log.h"
#include "mf/redis_conn.h"
#include "mf/redis_keys.h"
#include "mf/util.h"
#include "pool.h"
#include "store.h"

#define WAIT_MS 2000

typedef struct redis_impl {
    api_pool *pool;
    const mf_config *cfg; /* borrowed: the service's, read-only after start */
} redis_impl;

static int reply_ok(const redisReply *r) {
    return r != NULL && r->type != REDIS_REPLY_ERROR;
}

static void *redis_connect(void *ctx) {
    redis_impl *im = ctx;
    char err[512];
    redisContext *c = NULL;
    if (mf_redis_connect(&c, im->cfg, err, sizeof(err)) != MF_OK)
        mf_log_ratelimited(MF_LOG_WARN, 5000, "redis connect failed host=%s port=%d: %s",
                           im->cfg->redis.host, im->cfg->redis.port, err);
    return c;
}

static void redis_close(void *c) {
    redisFree(c);
}

static int redis_up(api_store *s) {
    return api_pool_up(((redis_impl *)s->impl)->pool);
}

/* Reads n pipelined replies into rs[]. Returns 0, or -1 on an I/O error (connection broken;
 * replies already read are freed). */
static int read_replies(redisContext *c, redisReply **rs, int n) {
    for (int i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(c, &r) != REDIS_OK || r == NULL) {
            for (int j = 0; j < i; j++) freeReplyObject(rs[j]);
            return -1;
        }
        rs[i] = r;
    }
    return 0;
}

static void free_replies(redisReply **rs, int n) {
    for (int i = 0; i < n; i++) freeReplyObject(rs[i]);
}

static mf_status redis_ping(api_store *s) {
    redis_impl *im = s->impl;
    redisContext *c;
    redisReply *r;
    mf_status st = api_pool_get(im->pool, (void **)&c, WAIT_MS);
    if (st != MF_OK) return st;
    r = redisCommand(c, "PING");
    st = reply_ok(r) ? MF_OK : MF_ERR_DB;
    api_pool_put(im->pool, c, r == NULL);
    freeReplyObject(r);
    return st;
}

static int64_t str_i64(const redisReply *r) {
    if (r == NULL || r->type != REDIS_REPLY_STRING) return 0;
    return strtoll(r->str, NULL, 10);
}

static double str_dbl(const redisReply *r) {
    if (r == NULL || r->type != REDIS_REPLY_STRING) return NAN;
    return strtod(r->str, NULL);
}

static void
take_latest(api_latest *best, int *found, const char *ex, const char *sym, const redisReply *r) {
    double price;
    int64_t ts;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) return;
    if (r->element[0]->type != REDIS_REPLY_STRING) return;
    price = str_dbl(r->element[0]);
    ts = str_i64(r->element[1]);
    if (!isfinite(price)) return;
    if (*found && (ts < best->ts || (ts == best->ts && strcmp(ex, best->exchange) >= 0))) return;
    mf_strlcpy(best->exchange, ex, sizeof(best->exchange));
    mf_strlcpy(best->symbol, sym, sizeof(best->symbol));
    best->price = price;
    best->ts = ts;
    *found = 1;
}

static mf_status redis_latest(api_store *s, const api_query *q, api_latest *out) {
    redis_impl *im = s->impl;
    redisContext *c;
    redisReply *rs[API_MAX_EXCHANGES];
    int n = q->exchanges->n, found = 0;
    mf_status st = api_pool_get(im->pool, (void **)&c, WAIT_MS);
    if (st != MF_OK) return st;
    for (int i = 0; i < n; i++) {
        char key[MF_RKEY_MAX];
        /* An unkeyable name still gets a command (an empty key reads nothing), so that
         * reply i stays the reply of exchange i. */
        if (mf_rkey_latest(key, sizeof(key), q->exchanges->name[i], q->symbol) < 0) key[0] = '\0';
        redisAppendCommand(c, "HMGET %s price ts", key);
    }
    if (read_replies(c, rs, n) != 0) {
        api_pool_put(im->pool, c, 1);
        return MF_ERR_DB;
    }
    api_pool_put(im->pool, c, 0);
    for (int i = 0; i < n; i++)
        if (reply_ok(rs[i])) take_latest(out, &found, q->exchanges->name[i], q->symbol, rs[i]);
    free_replies(rs, n);
    return found ? MF_OK : MF_ERR_NOT_FOUND;
}

/* One bucket: HMGET fields count min min_ts max max_ts sum_x. */
static void add_bucket(api_agg *out, const char *ex, const redisReply *r) {
    mf_xsum sum;
    int64_t count;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 6) return;
    count = str_i64(r->element[0]);
    if (count <= 0) return; /* expired between the two rounds, or empty */
    if (r->element[5]->type == REDIS_REPLY_STRING) {
        if (api_xsum_parse(r->element[5]->str, &sum) != 0) {
            mf_log_ratelimited(MF_LOG_WARN, 5000, "redis bucket with a bad sum_x exchange=%s", ex);
            return;
        }
    } else {
        mf_xsum_init(&sum);
    }
    api_agg_add(out, ex, count, &sum, str_dbl(r->element[1]), str_i64(r->element[2]),
                str_dbl(r->element[3]), str_i64(r->element[4]));
}

/* Second round: HMGET every bucket listed by the ZRANGEBYSCORE replies. */
static mf_status read_buckets(redisContext *c, const api_query *q, redisReply **idx, api_agg *out) {
    size_t total = 0, k = 0;
    redisReply **rs;
    const char **exs;
    for (int i = 0; i < q->exchanges->n; i++)
        if (idx[i]->type == REDIS_REPLY_ARRAY) total += idx[i]->elements;
    if (total == 0) return MF_OK;
    rs = mf_xcalloc(total, sizeof(*rs));
    exs = mf_xcalloc(total, sizeof(*exs));
    for (int i = 0; i < q->exchanges->n; i++) {
        if (idx[i]->type != REDIS_REPLY_ARRAY) continue;
        for (size_t j = 0; j < idx[i]->elements; j++) {
            const redisReply *m = idx[i]->element[j];
            char key[MF_RKEY_MAX];
            int64_t start = 0;
            /* Members are the bucket starts; anything else reads nothing (reply kept). */
            if (m->type != REDIS_REPLY_STRING ||
                mf_parse_i64(m->str, INT64_MIN, INT64_MAX, &start) ||
                mf_rkey_1s(key, sizeof(key), q->exchanges->name[i], q->symbol, start) < 0)
                key[0] = '\0';
            redisAppendCommand(c, "HMGET %s count min min_ts max max_ts sum_x", key);
            exs[k++] = q->exchanges->name[i];
        }
    }
    if (read_replies(c, rs, (int)total) != 0) {
        free(rs);
        free(exs);
        return MF_ERR_IO;
    }
    for (size_t i = 0; i < total; i++)
        if (reply_ok(rs[i])) add_bucket(out, exs[i], rs[i]);
    free_replies(rs, (int)total);
    free(rs);
    free(exs);
    return MF_OK;
}

static mf_status redis_range(api_store *s, const api_query *q, const mf_xsum *plus, api_agg *out) {
    redis_impl *im = s->impl;
    redisContext *c;
    redisReply *idx[API_MAX_EXCHANGES];
    int n = q->exchanges->n;
    mf_status st = api_pool_get(im->pool, (void **)&c, WAIT_MS);
    (void)plus;
    if (st != MF_OK) return st;
    for (int i = 0; i < n; i++) {
        char key[MF_RKEY_MAX];
        if (mf_rkey_1s_idx(key, sizeof(key), q->exchanges->name[i], q->symbol) < 0) key[0] = '\0';
        redisAppendCommand(c, "ZRANGEBYSCORE %s %lld (%lld", key, (long long)q->from,
                           (long long)q->to);
    }
    if (read_replies(c, idx, n) != 0) {
        api_pool_put(im->pool, c, 1);
        return MF_ERR_DB;
    }
    st = read_buckets(c, q, idx, out);
    api_pool_put(im->pool, c, st == MF_ERR_IO);
    free_replies(idx, n);
    return st == MF_OK ? MF_OK : MF_ERR_DB;
}

static mf_status redis_exchanges(api_store *s, api_names *out) {
    redis_impl *im = s->impl;
    redisContext *c;
    redisReply *r;
    mf_status st = api_pool_get(im->pool, (void **)&c, WAIT_MS);
    if (st != MF_OK) return st;
    r = redisCommand(c, "SMEMBERS %s", MF_RKEY_EXCHANGES);
    api_pool_put(im->pool, c, r == NULL);
    if (!reply_ok(r) || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return MF_ERR_DB;
    }
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING && mf_token_valid(r->element[i]->str))
            api_names_add(out, r->element[i]->str);
    freeReplyObject(r);
    return MF_OK;
}

static void redis_destroy(api_store *s) {
    if (s == NULL) return;
    redis_impl *im = s->impl;
    api_pool_destroy(im->pool);
    free(im);
    free(s);
}

static const api_store_ops redis_ops = {
    .name = "redis",
    .up = redis_up,
    .ping = redis_ping,
    .latest = redis_latest,
    .range = redis_range,
    .exchanges = redis_exchanges,
    .destroy = redis_destroy,
};

api_store *api_store_redis_create(const mf_config *cfg, int pool_size) {
    api_store *s = mf_xcalloc(1, sizeof(*s));
    redis_impl *im = mf_xcalloc(1, sizeof(*im));
    im->cfg = cfg;
    im->pool = api_pool_create(pool_size, redis_connect, redis_close, im, "redis");
    s->ops = &redis_ops;
    s->impl = im;
    return s;
}
