/* store_redis.c: the Redis adapter of the price store (hiredis, pooled, pipelined).
 *
 * Keys (owned by the persister --sink redis; see the preamble of the bus contract):
 *   mf:latest:<ex>:<sym>          HASH price, ts, recv_ts
 *   mf:1s:idx:<ex>:<sym>          ZSET of bucket starts (score = start ms)
 *   mf:1s:<ex>:<sym>:<start>      HASH count, min, min_ts, max, max_ts, sum_x, ...
 *   mf:exchanges                  SET of exchange names
 * A range read is one pipelined round: per exchange, EVALSHA of RANGE_LUA, which lists the
 * buckets of [from, to) in the index and returns their fields count min min_ts max max_ts
 * sum_x VERBATIM (the strings the persister wrote, one line per bucket) so the merge stays
 * in C and exact; the script only saves the per-bucket round trips and reply parsing. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "mf/config.h"
#include "mf/log.h"
#include "mf/util.h"
#include "pool.h"
#include "store.h"

#define WAIT_MS 2000

/* KEYS[1] = mf:1s:idx:<ex>:<sym>; ARGV = from, to (exclusive), "mf:1s:<ex>:<sym>:".
 * Returns one string: a line "count min min_ts max max_ts sum_x" per bucket with a positive
 * count (fields separated by one space, absent fields empty; sum_x has no spaces). */
static const char RANGE_LUA[] =
    "local starts = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '(' .. ARGV[2])\n"
    "local rows = {}\n"
    "for i = 1, #starts do\n"
    "  local h = redis.call('HMGET', ARGV[3] .. starts[i], 'count', 'min', 'min_ts', 'max',\n"
    "                       'max_ts', 'sum_x')\n"
    "  if h[1] and tonumber(h[1]) and tonumber(h[1]) > 0 then\n"
    "    rows[#rows + 1] = h[1] .. ' ' .. (h[2] or '') .. ' ' .. (h[3] or '') .. ' ' ..\n"
    "                      (h[4] or '') .. ' ' .. (h[5] or '') .. ' ' .. (h[6] or '')\n"
    "  end\n"
    "end\n"
    "return table.concat(rows, '\\n')\n";

typedef struct redis_impl {
    api_pool *pool;
    pthread_mutex_t sha_mu; /* guards range_sha */
    char range_sha[48];     /* SHA1 of RANGE_LUA (SCRIPT LOAD at connect; same on every server) */
    char host[MF_CFG_STR];
    int port;
    char password[MF_CFG_STR];
    int db;
} redis_impl;

static int reply_ok(const redisReply *r) {
    return r != NULL && r->type != REDIS_REPLY_ERROR;
}

static void *redis_connect(void *ctx) {
    redis_impl *im = ctx;
    struct timeval ct = {0, 500000}, rt = {2, 0};
    redisContext *c = redisConnectWithTimeout(im->host, im->port, ct);
    redisReply *r = NULL;
    if (c == NULL || c->err) {
        mf_log_ratelimited(MF_LOG_WARN, 5000, "redis connect failed host=%s port=%d: %s", im->host,
                           im->port, c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, rt);
    redisEnableKeepAlive(c);
    if (im->password[0]) r = redisCommand(c, "AUTH %s", im->password);
    if (r == NULL && im->password[0]) goto fail;
    if (r && !reply_ok(r)) goto fail;
    freeReplyObject(r);
    r = NULL;
    if (im->db != 0 && !reply_ok(r = redisCommand(c, "SELECT %d", im->db))) goto fail;
    freeReplyObject(r);
    r = redisCommand(c, "SCRIPT LOAD %s", RANGE_LUA);
    if (r == NULL || r->type != REDIS_REPLY_STRING || r->len >= 48) goto fail;
    pthread_mutex_lock(&im->sha_mu);
    mf_strlcpy(im->range_sha, r->str, sizeof(im->range_sha));
    pthread_mutex_unlock(&im->sha_mu);
    freeReplyObject(r);
    return c;
fail:
    mf_log_ratelimited(MF_LOG_WARN, 5000, "redis AUTH/SELECT/SCRIPT LOAD failed host=%s port=%d",
                       im->host, im->port); /* never the password itself */
    freeReplyObject(r);
    redisFree(c);
    return NULL;
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
    for (int i = 0; i < n; i++)
        redisAppendCommand(c, "HMGET mf:latest:%s:%s price ts", q->exchanges->name[i], q->symbol);
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

/* One line of RANGE_LUA: "count min min_ts max max_ts sum_x" (sum_x may be empty). */
static void add_row(api_agg *out, const char *ex, char *row) {
    char *f[6];
    mf_xsum sum;
    int n = 0;
    f[n++] = row;
    for (char *p = row; *p && n < 6; p++)
        if (*p == ' ') {
            *p = '\0';
            f[n++] = p + 1;
        }
    if (n != 6 || strtoll(f[0], NULL, 10) <= 0) {
        mf_log_ratelimited(MF_LOG_WARN, 5000, "redis bucket with missing fields exchange=%s", ex);
        return;
    }
    if (api_xsum_parse(f[5], &sum) != 0) {
        mf_log_ratelimited(MF_LOG_WARN, 5000, "redis bucket with a bad sum_x exchange=%s", ex);
        return;
    }
    api_agg_add(out, ex, strtoll(f[0], NULL, 10), &sum, f[1][0] ? strtod(f[1], NULL) : NAN,
                strtoll(f[2], NULL, 10), f[3][0] ? strtod(f[3], NULL) : NAN,
                strtoll(f[4], NULL, 10));
}

/* Merges the lines of one exchange's reply (modified in place). */
static void add_rows(api_agg *out, const char *ex, redisReply *r) {
    char *row = r->str, *nl;
    if (r->len == 0) return;
    for (;;) {
        nl = strchr(row, '\n');
        if (nl) *nl = '\0';
        add_row(out, ex, row);
        if (nl == NULL) break;
        row = nl + 1;
    }
}

static void
append_range(redisContext *c, const char *cmd, const char *script, const api_query *q, int i) {
    char idx[128], prefix[128], from[24], to[24];
    const char *argv[7];
    snprintf(idx, sizeof(idx), "mf:1s:idx:%s:%s", q->exchanges->name[i], q->symbol);
    snprintf(prefix, sizeof(prefix), "mf:1s:%s:%s:", q->exchanges->name[i], q->symbol);
    snprintf(from, sizeof(from), "%lld", (long long)q->from);
    snprintf(to, sizeof(to), "%lld", (long long)q->to);
    argv[0] = cmd, argv[1] = script, argv[2] = "1", argv[3] = idx;
    argv[4] = from, argv[5] = to, argv[6] = prefix;
    redisAppendCommandArgv(c, 7, argv, NULL);
}

/* A server that lost its scripts (SCRIPT FLUSH, restart behind a proxy): EVAL the text. */
static redisReply *eval_text(redisContext *c, const api_query *q, int i) {
    void *r = NULL;
    append_range(c, "EVAL", RANGE_LUA, q, i);
    if (redisGetReply(c, &r) != REDIS_OK) return NULL;
    return r;
}

static mf_status redis_range(api_store *s, const api_query *q, const mf_xsum *plus, api_agg *out) {
    redis_impl *im = s->impl;
    redisContext *c;
    redisReply *rs[API_MAX_EXCHANGES];
    char sha[48];
    int n = q->exchanges->n, broken = 0;
    mf_status st = api_pool_get(im->pool, (void **)&c, WAIT_MS);
    (void)plus;
    if (st != MF_OK) return st;
    pthread_mutex_lock(&im->sha_mu);
    mf_strlcpy(sha, im->range_sha, sizeof(sha));
    pthread_mutex_unlock(&im->sha_mu);
    for (int i = 0; i < n; i++) append_range(c, "EVALSHA", sha, q, i);
    if (read_replies(c, rs, n) != 0) {
        api_pool_put(im->pool, c, 1);
        return MF_ERR_DB;
    }
    for (int i = 0; i < n && !broken; i++) {
        if (rs[i]->type == REDIS_REPLY_ERROR && strncmp(rs[i]->str, "NOSCRIPT", 8) == 0) {
            freeReplyObject(rs[i]);
            rs[i] = eval_text(c, q, i);
            broken = rs[i] == NULL;
        }
    }
    api_pool_put(im->pool, c, broken);
    for (int i = 0; i < n; i++) {
        if (rs[i] == NULL || rs[i]->type != REDIS_REPLY_STRING) {
            if (rs[i] && rs[i]->type == REDIS_REPLY_ERROR)
                mf_log_ratelimited(MF_LOG_WARN, 5000, "redis range script failed: %s", rs[i]->str);
            st = MF_ERR_DB;
            continue;
        }
        add_rows(out, q->exchanges->name[i], rs[i]);
    }
    for (int i = 0; i < n; i++) freeReplyObject(rs[i]);
    return st;
}

static mf_status redis_exchanges(api_store *s, api_names *out) {
    redis_impl *im = s->impl;
    redisContext *c;
    redisReply *r;
    mf_status st = api_pool_get(im->pool, (void **)&c, WAIT_MS);
    if (st != MF_OK) return st;
    r = redisCommand(c, "SMEMBERS mf:exchanges");
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
    pthread_mutex_destroy(&im->sha_mu);
    free(im);
    free(s);
}

api_store *api_store_redis_create(const mf_config *cfg, int pool_size) {
    api_store *s = mf_xcalloc(1, sizeof(*s));
    redis_impl *im = mf_xcalloc(1, sizeof(*im));
    mf_strlcpy(im->host, cfg->redis.host, sizeof(im->host));
    im->port = cfg->redis.port;
    mf_strlcpy(im->password, cfg->redis.password, sizeof(im->password));
    im->db = cfg->redis.db;
    pthread_mutex_init(&im->sha_mu, NULL);
    im->pool = api_pool_create(pool_size, redis_connect, redis_close, im, "redis");
    s->name = "redis";
    s->up = redis_up;
    s->ping = redis_ping;
    s->latest = redis_latest;
    s->range = redis_range;
    s->exchanges = redis_exchanges;
    s->destroy = redis_destroy;
    s->impl = im;
    return s;
}
