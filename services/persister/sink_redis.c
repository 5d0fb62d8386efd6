/* sink_redis.c: Redis adapter of the persister's sink port (the cache).
 *
 * DESIGN: one hiredis context, used by the core thread only (ensure, write, idle). The
 * latest map is the one structure shared with another thread: the NATS delivery thread of
 * <prefix>.latest.> records the newest tick per key under `mu` (no I/O under the lock); the
 * core thread swaps the map out every ~100 ms and pipelines one script call per key.
 * Connection loss (a failed command or PING) drops the context; the next ensure()
 * reconnects, reloads the scripts and raises want_rebuild, so the core replays the
 * retention window from the stream: the cache is complete again within seconds. */
#include "sink_redis.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/redis_conn.h"
#include "mf/redis_keys.h"
#include "mf/util.h"

#define LATEST_CAP 8192 /* keys conflated between two flushes; more are dropped (counted) */
#define LATEST_FLUSH_MS 100
#define PING_EVERY_MS 1000
#define MERGE_KEYS 6

const char *pers_redis_merge_lua =
    "local n = tonumber(ARGV[7])\n"
    "local nmin, nmin_ts = tonumber(ARGV[8]), tonumber(ARGV[9])\n"
    "local nmax, nmax_ts = tonumber(ARGV[10]), tonumber(ARGV[11])\n"
    "local nop, nop_ts, nop_id = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])\n"
    "local ncl, ncl_ts, ncl_id = tonumber(ARGV[15]), tonumber(ARGV[16]), tonumber(ARGV[17])\n"
    "if not (n and n > 0 and nmin and nmin_ts and nmax and nmax_ts and nop and nop_ts\n"
    "        and nop_id and ncl and ncl_ts and ncl_id) then\n"
    "  return redis.error_reply('ERR marketflow: bad partial')\n"
    "end\n"
    "if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end\n"
    "local function parts(s)\n"
    "  local t = {}\n"
    "  for p in string.gmatch(s or '', '[^,]+') do t[#t + 1] = tonumber(p) end\n"
    "  return t\n"
    "end\n"
    "-- exact sum of two expansions (Shewchuk's grow-expansion, as mf_xsum_add)\n"
    "local function xadd(a, b)\n"
    "  local e = parts(a)\n"
    "  for _, x in ipairs(parts(b)) do\n"
    "    local out = {}\n"
    "    for j = 1, #e do\n"
    "      local y = e[j]\n"
    "      if math.abs(x) < math.abs(y) then x, y = y, x end\n"
    "      local hi = x + y\n"
    "      local lo = y - (hi - x)\n"
    "      if lo ~= 0 then out[#out + 1] = lo end\n"
    "      x = hi\n"
    "    end\n"
    "    out[#out + 1] = x\n"
    "    e = out\n"
    "  end\n"
    "  local t = {}\n"
    "  for i = 1, #e do\n"
    "    if e[i] ~= 0 then t[#t + 1] = string.format('%.17g', e[i]) end\n"
    "  end\n"
    "  return table.concat(t, ',')\n"
    "end\n"
    "local function before(ta, ia, pa, tb, ib, pb)\n"
    "  if ta ~= tb then return ta < tb end\n"
    "  if ia ~= ib then return ia < ib end\n"
    "  return pa < pb\n"
    "end\n"
    "local h = redis.call('HMGET', KEYS[1], 'count', 'min', 'min_ts', 'max', 'max_ts', 'open',\n"
    "  'open_ts', 'open_id', 'close', 'close_ts', 'close_id', 'sum_x', 'volume_x',\n"
    "  'notional_x')\n"
    "if h[1] then\n"
    "  local f = {'count', string.format('%.17g', tonumber(h[1]) + n)}\n"
    "  local omin, omin_ts = tonumber(h[2]), tonumber(h[3])\n"
    "  if nmin < omin or (nmin == omin and nmin_ts < omin_ts) then\n"
    "    f[#f + 1] = 'min'; f[#f + 1] = ARGV[8]; f[#f + 1] = 'min_ts'; f[#f + 1] = ARGV[9]\n"
    "  end\n"
    "  local omax, omax_ts = tonumber(h[4]), tonumber(h[5])\n"
    "  if nmax > omax or (nmax == omax and nmax_ts < omax_ts) then\n"
    "    f[#f + 1] = 'max'; f[#f + 1] = ARGV[10]; f[#f + 1] = 'max_ts'; f[#f + 1] = ARGV[11]\n"
    "  end\n"
    "  if before(nop_ts, nop_id, nop, tonumber(h[7]), tonumber(h[8]), tonumber(h[6])) then\n"
    "    f[#f + 1] = 'open'; f[#f + 1] = ARGV[12]; f[#f + 1] = 'open_ts'\n"
    "    f[#f + 1] = ARGV[13]; f[#f + 1] = 'open_id'; f[#f + 1] = ARGV[14]\n"
    "  end\n"
    "  if before(tonumber(h[10]), tonumber(h[11]), tonumber(h[9]), ncl_ts, ncl_id, ncl) then\n"
    "    f[#f + 1] = 'close'; f[#f + 1] = ARGV[15]; f[#f + 1] = 'close_ts'\n"
    "    f[#f + 1] = ARGV[16]; f[#f + 1] = 'close_id'; f[#f + 1] = ARGV[17]\n"
    "  end\n"
    "  f[#f + 1] = 'sum_x'; f[#f + 1] = xadd(h[12], ARGV[18])\n"
    "  f[#f + 1] = 'volume_x'; f[#f + 1] = xadd(h[13], ARGV[19])\n"
    "  f[#f + 1] = 'notional_x'; f[#f + 1] = xadd(h[14], ARGV[20])\n"
    "  redis.call('HSET', KEYS[1], unpack(f))\n"
    "else\n"
    "  redis.call('HSET', KEYS[1], 'count', ARGV[7], 'min', ARGV[8], 'min_ts', ARGV[9],\n"
    "    'max', ARGV[10], 'max_ts', ARGV[11], 'open', ARGV[12], 'open_ts', ARGV[13],\n"
    "    'open_id', ARGV[14], 'close', ARGV[15], 'close_ts', ARGV[16], 'close_id', ARGV[17],\n"
    "    'sum_x', ARGV[18], 'volume_x', ARGV[19], 'notional_x', ARGV[20])\n"
    "  redis.call('PEXPIREAT', KEYS[1], ARGV[2])\n"
    "  redis.call('PEXPIREAT', KEYS[2], ARGV[2])\n"
    "  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[3])\n"
    "end\n"
    "-- once per key and batch (ARGV[22] = 1): trim the index, keep it alive, register names\n"
    "if ARGV[22] == '1' then\n"
    "  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[4])\n"
    "  redis.call('EXPIRE', KEYS[3], ARGV[21])\n"
    "  redis.call('SADD', KEYS[4], ARGV[5])\n"
    "  redis.call('SADD', KEYS[5], ARGV[6])\n"
    "end\n"
    "-- the batch's newest close of the key (ARGV[23] = 1) moves latest forward\n"
    "if ARGV[23] == '1' then\n"
    "  local lts = redis.call('HGET', KEYS[6], 'ts')\n"
    "  if not lts or tonumber(lts) < ncl_ts then\n"
    "    redis.call('HSET', KEYS[6], 'price', ARGV[15], 'ts', ARGV[16], 'recv_ts', ARGV[16])\n"
    "  end\n"
    "end\n"
    "return 1\n";

const char *pers_redis_latest_lua =
    "local ts = tonumber(ARGV[2])\n"
    "if not ts or not tonumber(ARGV[1]) then\n"
    "  return redis.error_reply('ERR marketflow: bad latest')\n"
    "end\n"
    "redis.call('SADD', KEYS[2], ARGV[4])\n"
    "redis.call('SADD', KEYS[3], ARGV[5])\n"
    "local cur = redis.call('HGET', KEYS[1], 'ts')\n"
    "if cur and tonumber(cur) >= ts then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'price', ARGV[1], 'ts', ARGV[2], 'recv_ts', ARGV[3])\n"
    "return 1\n";

typedef struct latest_slot {
    int used;
    mf_tick t;
} latest_slot;

typedef struct redis_sink {
    const mf_config *cfg; /* borrowed: the service's, read-only after start */
    int retention_s;
    redisContext *ctx;
    char merge_sha[48];
    char latest_sha[48];
    int down_logged;
    atomic_int connected;
    atomic_int rebuild;
    int64_t next_ping;   /* monotonic ms */
    int64_t next_latest; /* monotonic ms */
    pthread_mutex_t mu;  /* guards latest[] and nlatest */
    latest_slot *latest;
    size_t nlatest;
    latest_slot *flushing; /* core thread's copy */
    atomic_llong *errors, *connects, *latest_written, *latest_dropped;
} redis_sink;

int pers_redis_xsum_str(const mf_xsum *s, char *buf, size_t size) {
    size_t n = 0;
    if (size == 0) return -1;
    buf[0] = '\0';
    for (int i = 0; i < s->n; i++) {
        int k;
        if (s->p[i] == 0.0) continue;
        k = snprintf(buf + n, size - n, "%s%.17g", n ? "," : "", s->p[i]);
        if (k < 0 || (size_t)k >= size - n) return -1;
        n += (size_t)k;
    }
    return (int)n;
}

/* ---- connection ----------------------------------------------------------------------- */

static void drop_ctx(redis_sink *r) {
    if (r->ctx) redisFree(r->ctx);
    r->ctx = NULL;
    atomic_store(&r->connected, 0);
}

static void down(redis_sink *r, const char *what, const char *err) {
    atomic_fetch_add(r->errors, 1);
    if (!r->down_logged)
        mf_log(MF_LOG_WARN, "redis %s failed host=%s port=%d: %s; retrying", what,
               r->cfg->redis.host, r->cfg->redis.port, err);
    else
        mf_log_ratelimited(MF_LOG_WARN, 10000, "redis %s still failing: %s", what, err);
    r->down_logged = 1;
    drop_ctx(r);
}

/* Runs one command; returns the reply (caller frees) or NULL after logging. */
static redisReply *command(redis_sink *r, const char *what, int argc, const char **argv) {
    redisReply *rep = redisCommandArgv(r->ctx, argc, argv, NULL);
    if (rep == NULL) {
        down(r, what, r->ctx->errstr);
        return NULL;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        char err[256];
        snprintf(err, sizeof(err), "%s", rep->str);
        freeReplyObject(rep);
        down(r, what, err);
        return NULL;
    }
    return rep;
}

static int load_script(redis_sink *r, const char *src, char *sha, size_t size) {
    const char *argv[] = {"SCRIPT", "LOAD", src};
    redisReply *rep = command(r, "script load", 3, argv);
    if (rep == NULL) return -1;
    snprintf(sha, size, "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "");
    freeReplyObject(rep);
    return 0;
}

static int load_scripts(redis_sink *r) {
    return load_script(r, pers_redis_merge_lua, r->merge_sha, sizeof(r->merge_sha)) == 0 &&
                   load_script(r, pers_redis_latest_lua, r->latest_sha, sizeof(r->latest_sha)) == 0
               ? 0
               : -1;
}

static mf_status rs_connect(redis_sink *r) {
    char err[512];
    if (mf_redis_connect(&r->ctx, r->cfg, err, sizeof(err)) != MF_OK) {
        down(r, "connect", err);
        return MF_ERR_DB;
    }
    if (load_scripts(r) != 0) return MF_ERR_DB;
    r->down_logged = 0;
    atomic_store(&r->connected, 1);
    atomic_store(&r->rebuild, 1); /* a fresh connection may face an empty cache */
    atomic_fetch_add(r->connects, 1);
    mf_log(MF_LOG_INFO, "redis connected host=%s port=%d db=%d", r->cfg->redis.host,
           r->cfg->redis.port, r->cfg->redis.db);
    return MF_OK;
}

static mf_status rs_ensure(void *impl) {
    redis_sink *r = impl;
    if (r->ctx != NULL && r->ctx->err == 0) return MF_OK;
    drop_ctx(r);
    return rs_connect(r);
}

static int rs_connected(void *impl) {
    redis_sink *r = impl;
    return atomic_load(&r->connected);
}

static int rs_want_rebuild(void *impl) {
    redis_sink *r = impl;
    return atomic_load(&r->rebuild);
}

static void rs_rebuild_done(void *impl) {
    redis_sink *r = impl;
    atomic_store(&r->rebuild, 0);
}

/* ---- merge ---------------------------------------------------------------------------- */

typedef struct merge_cmd {
    char key[MF_RKEY_MAX], seen[MF_RKEY_MAX], idx[MF_RKEY_MAX], latest[MF_RKEY_MAX];
    char member[128], expire_at[24], start[24], trim[24], symkey[MF_RKEY_MAX];
    char count[24], min[32], min_ts[24], max[32], max_ts[24];
    char open[32], open_ts[24], open_id[24], close[32], close_ts[24], close_id[24];
    char sum[1024], vol[1024], notional[1024], idx_ttl[16];
    const char *housekeeping, *latest_flag;
} merge_cmd;

static int build_merge(const redis_sink *r,
                       const mf_rollup *ro,
                       int64_t now,
                       merge_cmd *m,
                       const char **argv) {
    const char *ex = ro->exchange, *sym = ro->symbol;
    long long st = (long long)ro->start;
    if (mf_rkey_1s(m->key, sizeof(m->key), ex, sym, st) < 0 ||
        mf_rkey_1s_seen(m->seen, sizeof(m->seen), ex, sym, st) < 0 ||
        mf_rkey_1s_idx(m->idx, sizeof(m->idx), ex, sym) < 0 ||
        mf_rkey_latest(m->latest, sizeof(m->latest), ex, sym) < 0 ||
        mf_rkey_symbol_member(m->symkey, sizeof(m->symkey), ex, sym) < 0)
        return -1;
    snprintf(m->member, sizeof(m->member), "%s:%" PRIu64, ro->producer, ro->seq);
    snprintf(m->expire_at, sizeof(m->expire_at), "%lld", st + 1000LL * (r->retention_s + 60));
    snprintf(m->start, sizeof(m->start), "%lld", st);
    snprintf(m->trim, sizeof(m->trim), "%lld", (long long)(now - 1000LL * r->retention_s));
    snprintf(m->count, sizeof(m->count), "%lld", (long long)ro->st.count);
    snprintf(m->min, sizeof(m->min), "%.17g", ro->st.min);
    snprintf(m->min_ts, sizeof(m->min_ts), "%lld", (long long)ro->st.min_ts);
    snprintf(m->max, sizeof(m->max), "%.17g", ro->st.max);
    snprintf(m->max_ts, sizeof(m->max_ts), "%lld", (long long)ro->st.max_ts);
    snprintf(m->open, sizeof(m->open), "%.17g", ro->st.open);
    snprintf(m->open_ts, sizeof(m->open_ts), "%lld", (long long)ro->st.open_ts);
    snprintf(m->open_id, sizeof(m->open_id), "%lld", (long long)ro->st.open_id);
    snprintf(m->close, sizeof(m->close), "%.17g", ro->st.close);
    snprintf(m->close_ts, sizeof(m->close_ts), "%lld", (long long)ro->st.close_ts);
    snprintf(m->close_id, sizeof(m->close_id), "%lld", (long long)ro->st.close_id);
    snprintf(m->idx_ttl, sizeof(m->idx_ttl), "%d", r->retention_s + 60);
    if (pers_redis_xsum_str(&ro->st.sum, m->sum, sizeof(m->sum)) < 0 ||
        pers_redis_xsum_str(&ro->st.volume, m->vol, sizeof(m->vol)) < 0 ||
        pers_redis_xsum_str(&ro->st.notional, m->notional, sizeof(m->notional)) < 0)
        return -1;
    {
        const char *a[] = {
            "EVALSHA",       r->merge_sha,      "6",       m->key,     m->seen,      m->idx,
            MF_RKEY_SYMBOLS, MF_RKEY_EXCHANGES, m->latest, m->member,  m->expire_at, m->start,
            m->trim,         m->symkey,         ex,        m->count,   m->min,       m->min_ts,
            m->max,          m->max_ts,         m->open,   m->open_ts, m->open_id,   m->close,
            m->close_ts,     m->close_id,       m->sum,    m->vol,     m->notional,  m->idx_ttl,
            m->housekeeping, m->latest_flag};
        memcpy(argv, a, sizeof(a));
        return (int)(sizeof(a) / sizeof(a[0]));
    }
}

/* Reads `n` pipelined replies. Returns MF_OK, MF_ERR_DB (connection: dropped) or
 * MF_ERR_PARSE (some script refused its data). *noscript is set on NOSCRIPT. */
static mf_status read_replies(redis_sink *r, size_t n, pers_result *res, int *noscript) {
    mf_status s = MF_OK;
    for (size_t i = 0; i < n; i++) {
        redisReply *rep = NULL;
        if (redisGetReply(r->ctx, (void **)&rep) != REDIS_OK || rep == NULL) {
            down(r, "pipeline", r->ctx ? r->ctx->errstr : "closed");
            return MF_ERR_DB;
        }
        if (rep->type == REDIS_REPLY_INTEGER) {
            if (rep->integer == 1) res->applied++;
            if (rep->integer == 0) res->duplicates++;
        } else if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
            *noscript = 1;
        } else {
            atomic_fetch_add(r->errors, 1);
            mf_log_ratelimited(MF_LOG_WARN, 10000, "redis script error: %s",
                               rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
            if (s == MF_OK) s = MF_ERR_PARSE;
        }
        freeReplyObject(rep);
    }
    return s;
}

static int cmp_key(const void *pa, const void *pb, void *ctx) {
    const mf_rollup *base = ctx;
    const mf_rollup *a = &base[*(const size_t *)pa], *b = &base[*(const size_t *)pb];
    int c = strcmp(a->exchange, b->exchange);
    return c != 0 ? c : strcmp(a->symbol, b->symbol);
}

/* Per (exchange, symbol) of the batch: flag 1 on one partial (index trim, expiry, name sets:
 * once per key and batch is enough) and flag 2 on the one with the newest close (latest). */
static unsigned char *key_flags(const mf_rollup *rs, size_t n) {
    unsigned char *flags = mf_xcalloc(n ? n : 1, 1);
    size_t *idx = mf_xmalloc((n ? n : 1) * sizeof(*idx));
    for (size_t i = 0; i < n; i++) idx[i] = i;
    qsort_r(idx, n, sizeof(*idx), cmp_key, (void *)rs);
    for (size_t i = 0; i < n;) {
        size_t j = i, best = idx[i];
        flags[idx[i]] |= 1;
        for (; j < n && cmp_key(&idx[i], &idx[j], (void *)rs) == 0; j++) {
            const mf_rollup *a = &rs[idx[j]], *b = &rs[best];
            if (mf_tick_order(a->st.close_ts, a->st.close_id, a->st.close, b->st.close_ts,
                              b->st.close_id, b->st.close) > 0)
                best = idx[j];
        }
        flags[best] |= 2;
        i = j;
    }
    free(idx);
    return flags;
}

static mf_status
pipeline_merges(redis_sink *r, const mf_rollup *rs, size_t n, pers_result *res, int *noscript) {
    merge_cmd *m = mf_xmalloc(sizeof(*m));
    const char *argv[40];
    size_t sent = 0;
    int64_t now = mf_now_ms(), oldest = now - 1000LL * r->retention_s;
    unsigned char *flags = key_flags(rs, n);
    for (size_t i = 0; i < n; i++) {
        int argc;
        if (rs[i].start + 1000 <= oldest) { /* out of the cache window: trimmed anyway */
            res->skipped++;
            continue;
        }
        m->housekeeping = (flags[i] & 1) ? "1" : "0";
        m->latest_flag = (flags[i] & 2) ? "1" : "0";
        argc = build_merge(r, &rs[i], now, m, argv);
        if (argc < 0) {
            res->skipped++;
            continue;
        }
        redisAppendCommandArgv(r->ctx, argc, argv, NULL);
        sent++;
    }
    free(m);
    free(flags);
    return read_replies(r, sent, res, noscript);
}

static mf_status rs_write(void *impl, const mf_rollup *rs, size_t n, pers_result *res) {
    redis_sink *r = impl;
    mf_status s = MF_ERR_DB;
    for (int round = 0; round < 2; round++) {
        int noscript = 0;
        memset(res, 0, sizeof(*res));
        if (r->ctx == NULL) return MF_ERR_DB;
        s = pipeline_merges(r, rs, n, res, &noscript);
        if (s == MF_ERR_DB || !noscript) break;
        /* The server lost its script cache (SCRIPT FLUSH, failover): reload, run again; the
         * seen-sets make the second round skip what the first applied. */
        if (load_scripts(r) != 0) return MF_ERR_DB;
        s = MF_ERR_DB;
    }
    res->rows = res->applied;
    return s;
}

/* ---- latest ----------------------------------------------------------------------------- */

static uint64_t key_hash(const char *a, const char *b) {
    uint64_t h = 1469598103934665603ULL;
    for (; *a; a++) h = (h ^ (unsigned char)*a) * 1099511628211ULL;
    h = (h ^ ':') * 1099511628211ULL;
    for (; *b; b++) h = (h ^ (unsigned char)*b) * 1099511628211ULL;
    return h;
}

static void rs_on_latest(void *impl, const mf_tick *t) {
    redis_sink *r = impl;
    size_t i = (size_t)(key_hash(t->exchange, t->symbol) % LATEST_CAP);
    pthread_mutex_lock(&r->mu);
    for (;; i = (i + 1) % LATEST_CAP) {
        latest_slot *s = &r->latest[i];
        if (!s->used) {
            if (r->nlatest >= LATEST_CAP * 3 / 4) {
                atomic_fetch_add(r->latest_dropped, 1);
                break;
            }
            s->used = 1;
            s->t = *t;
            r->nlatest++;
            break;
        }
        if (strcmp(s->t.exchange, t->exchange) == 0 && strcmp(s->t.symbol, t->symbol) == 0) {
            if (t->ts > s->t.ts) s->t = *t;
            break;
        }
    }
    pthread_mutex_unlock(&r->mu);
}

static void flush_latest(redis_sink *r) {
    size_t n = 0, sent = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < LATEST_CAP && r->nlatest > 0; i++) {
        if (!r->latest[i].used) continue;
        r->flushing[n++] = r->latest[i];
        r->latest[i].used = 0;
        r->nlatest--;
    }
    pthread_mutex_unlock(&r->mu);
    if (n == 0 || r->ctx == NULL) return; /* Redis away: a newer tick will come */
    for (size_t i = 0; i < n; i++) {
        const mf_tick *t = &r->flushing[i].t;
        char key[MF_RKEY_MAX], symkey[MF_RKEY_MAX], price[32], ts[24], recv[24];
        const char *argv[] = {"EVALSHA",         r->latest_sha, "3", key,  MF_RKEY_SYMBOLS,
                              MF_RKEY_EXCHANGES, price,         ts,  recv, symkey,
                              t->exchange};
        if (mf_rkey_latest(key, sizeof(key), t->exchange, t->symbol) < 0 ||
            mf_rkey_symbol_member(symkey, sizeof(symkey), t->exchange, t->symbol) < 0)
            continue; /* not bus tokens: mf_tick_from_json lets none through */
        snprintf(price, sizeof(price), "%.17g", t->price);
        snprintf(ts, sizeof(ts), "%lld", (long long)t->ts);
        snprintf(recv, sizeof(recv), "%lld", (long long)t->recv_ts);
        redisAppendCommandArgv(r->ctx, 11, argv, NULL);
        sent++;
    }
    for (size_t i = 0; i < sent; i++) {
        redisReply *rep = NULL;
        if (redisGetReply(r->ctx, (void **)&rep) != REDIS_OK || rep == NULL) {
            down(r, "latest pipeline", r->ctx ? r->ctx->errstr : "closed");
            return;
        }
        if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 1)
            atomic_fetch_add(r->latest_written, 1);
        else if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0)
            load_scripts(r), i = sent; /* this round's ticks are lost; newer ones follow */
        freeReplyObject(rep);
        if (r->ctx == NULL) return;
    }
}

static void rs_idle(void *impl) {
    redis_sink *r = impl;
    int64_t now = mf_mono_ms();
    if (r->ctx != NULL && now >= r->next_ping) {
        const char *argv[] = {"PING"};
        redisReply *rep = command(r, "ping", 1, argv);
        r->next_ping = now + PING_EVERY_MS;
        if (rep) freeReplyObject(rep);
    }
    if (now >= r->next_latest) {
        r->next_latest = now + LATEST_FLUSH_MS;
        flush_latest(r);
    }
}

static void rs_fill_status(void *impl, json_t *o) {
    redis_sink *r = impl;
    json_object_set_new(o, "db", json_string("redis"));
    json_object_set_new(o, "db_errors", json_integer(atomic_load(r->errors)));
    json_object_set_new(o, "latest_written", json_integer(atomic_load(r->latest_written)));
    json_object_set_new(o, "latest_dropped", json_integer(atomic_load(r->latest_dropped)));
    json_object_set_new(o, "retention_s", json_integer(r->retention_s));
}

static void rs_destroy(void *impl) {
    redis_sink *r = impl;
    if (r == NULL) return;
    drop_ctx(r);
    pthread_mutex_destroy(&r->mu);
    free(r->latest);
    free(r->flushing);
    free(r);
}

static const pers_sink_ops rs_ops = {
    .name = "redis",
    .ensure = rs_ensure,
    .write = rs_write,
    .connected = rs_connected,
    .want_rebuild = rs_want_rebuild,
    .rebuild_done = rs_rebuild_done,
    .on_latest = rs_on_latest,
    .idle = rs_idle,
    .fill_status = rs_fill_status,
    .destroy = rs_destroy,
};

mf_status pers_sink_redis_create(pers_sink **out, const mf_config *cfg) {
    redis_sink *r = mf_xcalloc(1, sizeof(*r));
    pers_sink *s = mf_xcalloc(1, sizeof(*s));
    r->cfg = cfg;
    r->retention_s = cfg->redis.retention_s;
    pthread_mutex_init(&r->mu, NULL);
    r->latest = mf_xcalloc(LATEST_CAP, sizeof(*r->latest));
    r->flushing = mf_xcalloc(LATEST_CAP, sizeof(*r->flushing));
    r->errors = mf_counter("persister_db_errors_total", "sink=\"redis\"",
                           "Redis failures (connect, command)");
    r->connects =
        mf_counter("persister_db_connects_total", "sink=\"redis\"", "Redis (re)connections");
    r->latest_written =
        mf_counter("persister_latest_written_total", "", "latest keys moved forward");
    r->latest_dropped = mf_counter("persister_latest_dropped_total", "",
                                   "latest ticks dropped (conflation map full)");
    s->ops = &rs_ops;
    s->impl = r;
    s->rebuild_window_s = r->retention_s;
    *out = s;
    return MF_OK;
}
