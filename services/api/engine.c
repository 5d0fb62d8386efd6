/* engine.c: price answers (see engine.h). */
#include "engine.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "mf/util.h"
#include "period.h"
#include "plan.h"

void api_engine_init(api_engine *e,
                     api_store *redis,
                     api_store *pg,
                     api_latest_map *latest,
                     int64_t settle_ms,
                     int64_t retention_ms) {
    memset(e, 0, sizeof(*e));
    e->redis = redis;
    e->pg = pg;
    e->latest = latest;
    e->settle_ms = settle_ms;
    e->retention_ms = retention_ms;
    pthread_rwlock_init(&e->lock, NULL);
}

void api_engine_cleanup(api_engine *e) {
    pthread_rwlock_destroy(&e->lock);
}

/* 1 when a and b hold the same names (order aside). */
static int same_set(const api_names *a, const api_names *b) {
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++)
        if (api_names_find(b, a->name[i]) < 0) return 0;
    return 1;
}

void api_engine_set_known(api_engine *e, const api_names *known) {
    pthread_rwlock_wrlock(&e->lock);
    if (!same_set(&e->known, known)) e->known_gen++;
    e->known = *known;
    pthread_rwlock_unlock(&e->lock);
}

void api_engine_known(api_engine *e, api_names *out) {
    pthread_rwlock_rdlock(&e->lock);
    *out = e->known;
    pthread_rwlock_unlock(&e->lock);
}

json_t *api_error_json(const char *msg) {
    json_t *o = json_pack("{s:s}", "error", msg);
    if (o == NULL) { /* the message quotes client bytes that are not UTF-8: replace them */
        char clean[512];
        size_t i;
        for (i = 0; msg[i] && i + 1 < sizeof(clean); i++)
            clean[i] =
                ((unsigned char)msg[i] & 0x80) || (unsigned char)msg[i] < 0x20 ? '?' : msg[i];
        clean[i] = '\0';
        o = json_pack("{s:s}", "error", clean);
    }
    return o;
}

static int fail(json_t **body, int status, const char *msg) {
    *body = api_error_json(msg);
    return status;
}

/* Fills `exs` with the exchanges to read: every known one, or the one asked for (its known
 * spelling). Returns 0, or 400 with an error body. */
static int resolve(api_engine *e, const api_route *rt, api_names *exs, json_t **body) {
    api_names known;
    char msg[1024];
    size_t k;
    int i;
    api_engine_known(e, &known);
    memset(exs, 0, sizeof(*exs));
    if (rt->exchange[0] == '\0') {
        *exs = known;
        return 0;
    }
    i = api_names_find(&known, rt->exchange);
    if (i >= 0) {
        api_names_add(exs, known.name[i]);
        return 0;
    }
    k = (size_t)snprintf(msg, sizeof(msg), "unknown exchange '%s'; known: all", rt->exchange);
    for (i = 0; i < known.n && k < sizeof(msg); i++)
        k += (size_t)snprintf(msg + k, sizeof(msg) - k, ", %s", known.name[i]);
    return fail(body, 400, msg);
}

static const char *exchange_label(const api_route *rt, const api_names *exs) {
    return rt->exchange[0] ? exs->name[0] : "all";
}

static int answer_latest(api_engine *e, const api_route *rt, const api_names *exs, json_t **body) {
    api_query q = {.symbol = rt->symbol, .exchanges = exs, .all = rt->exchange[0] == '\0'};
    api_latest l;
    const char *source = NULL;
    int failures = 0;
    char msg[256];
    memset(&l, 0, sizeof(l));
    if (e->latest && api_latest_map_get(e->latest, rt->symbol, exs, &l)) source = "bus";
    for (int i = 0; i < 2 && source == NULL; i++) {
        api_store *s = i == 0 ? e->redis : e->pg;
        mf_status st = s ? s->ops->latest(s, &q, &l) : MF_ERR_DB;
        if (st == MF_OK) source = s->ops->name;
        failures += st != MF_OK && st != MF_ERR_NOT_FOUND;
    }
    if (source == NULL && failures == 2)
        return fail(body, 503,
                    "neither the cache (Redis) nor the database (PostgreSQL) is "
                    "reachable and the bus has no latest price; retry later");
    if (source == NULL) {
        snprintf(msg, sizeof(msg), "no price for %s on %s", rt->symbol, exchange_label(rt, exs));
        return fail(body, 404, msg);
    }
    *body = json_pack("{s:s, s:s, s:f, s:I, s:s}", "symbol", rt->symbol, "exchange", l.exchange,
                      "price", l.price, "timestamp", (json_int_t)l.ts, "source", source);
    return 200;
}

/* Reads the planned parts. 0 on success; else marks the failed store down in *in. */
static int
read_parts(api_engine *e, const api_plan *p, const api_query *base, api_plan_in *in, api_agg *out) {
    api_agg rpart, ppart;
    api_query q = *base;
    api_agg_init(&rpart);
    api_agg_init(&ppart);
    if (p->redis_from < p->redis_to) {
        q.from = p->redis_from;
        q.to = p->redis_to;
        if (e->redis == NULL || e->redis->ops->range(e->redis, &q, NULL, &rpart) != MF_OK) {
            in->redis_up = 0;
            return -1;
        }
    }
    if (p->pg_from < p->pg_to) {
        q.from = p->pg_from;
        q.to = p->pg_to;
        if (e->pg == NULL || e->pg->ops->range(e->pg, &q, &rpart.st.sum, &ppart) != MF_OK) {
            in->pg_up = 0;
            return -1;
        }
        api_agg_merge(&ppart, &rpart); /* ppart's sum already includes rpart's */
        *out = ppart;
        return 0;
    }
    *out = rpart;
    return 0;
}

static json_t *stat_body(const api_route *rt,
                         const api_names *exs,
                         const char *period,
                         const api_plan *p,
                         const api_agg *a) {
    json_t *o;
    api_extreme x = rt->kind == API_R_HIGHEST ? api_agg_max(a) : api_agg_min(a);
    if (rt->kind == API_R_AVERAGE) {
        o = json_pack("{s:s, s:s, s:s, s:f, s:I}", "symbol", rt->symbol, "exchange",
                      exchange_label(rt, exs), "period", period, "price", api_agg_average(a),
                      "count", (json_int_t)a->st.count);
    } else {
        o = json_pack("{s:s, s:s, s:s, s:f, s:I}", "symbol", rt->symbol, "exchange", x.exchange,
                      "period", period, "price", x.price, "timestamp", (json_int_t)x.ts);
    }
    json_object_set_new(o, "from", json_integer(p->from));
    json_object_set_new(o, "to", json_integer(p->to));
    json_object_set_new(o, "source", json_string(p->source));
    return o;
}

static int answer_stat(api_engine *e,
                       const api_route *rt,
                       const char *period,
                       const api_names *exs,
                       int64_t now_ms,
                       json_t **body) {
    char err[512];
    api_plan_in in = {.now_ms = now_ms, .settle_ms = e->settle_ms, .retention_ms = e->retention_ms};
    api_query q = {.symbol = rt->symbol, .exchanges = exs, .all = rt->exchange[0] == '\0'};
    api_plan p;
    api_agg a;
    if (api_period_parse(period, &in.period_ms, err, sizeof(err)) != 0) return fail(body, 400, err);
    in.redis_up = e->redis && e->redis->ops->up(e->redis);
    in.pg_up = e->pg && e->pg->ops->up(e->pg);
    for (int attempt = 0;; attempt++) {
        if (api_plan_make(&in, &p, err, sizeof(err)) != 0) return fail(body, 503, err);
        if (read_parts(e, &p, &q, &in, &a) == 0) break;
        if (attempt == 2) return fail(body, 503, "the stores failed while answering; retry");
    }
    if (a.st.count == 0) {
        snprintf(err, sizeof(err), "no data for %s on %s in the last %s (from %lld to %lld)",
                 rt->symbol, exchange_label(rt, exs), period ? period : API_PERIOD_DEFAULT,
                 (long long)p.from, (long long)p.to);
        return fail(body, 404, err);
    }
    *body = stat_body(rt, exs, period ? period : API_PERIOD_DEFAULT, &p, &a);
    return 200;
}

int api_engine_answer(api_engine *e,
                      const api_route *rt,
                      const char *period,
                      int64_t now_ms,
                      json_t **body) {
    api_names exs;
    int st = resolve(e, rt, &exs, body);
    if (st != 0) return st;
    if (rt->kind == API_R_LATEST) return answer_latest(e, rt, &exs, body);
    return answer_stat(e, rt, period, &exs, now_ms, body);
}

/* ---- serialized and cached answers ---------------------------------------------------- */

static char *dump(json_t *body, int *status, size_t *len) {
    char *t = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(body);
    if (t == NULL) {
        t = mf_xstrdup("{\"error\":\"internal error\"}");
        *status = 500;
    }
    *len = strlen(t);
    return t;
}

static int answer_dumped(api_engine *e,
                         const api_route *rt,
                         const char *period,
                         int64_t now_ms,
                         char **text,
                         size_t *len) {
    json_t *body = NULL;
    int st = api_engine_answer(e, rt, period, now_ms, &body);
    *text = dump(body, &st, len);
    return st;
}

/* The cache key of a period route; -1 when not cacheable. *gen = `to` (whole seconds). */
static int cache_key(api_engine *e,
                     const api_route *rt,
                     const char *period,
                     int64_t now_ms,
                     char *key,
                     size_t keylen,
                     int64_t *gen) {
    char ex[MF_NAME_MAX + 1];
    uint64_t kgen;
    size_t i;
    int n;
    if (rt->kind != API_R_HIGHEST && rt->kind != API_R_LOWEST && rt->kind != API_R_AVERAGE)
        return -1;
    for (i = 0; rt->exchange[i] && i + 1 < sizeof(ex); i++)
        ex[i] = (char)tolower((unsigned char)rt->exchange[i]); /* matched case-insensitively */
    ex[i] = '\0';
    pthread_rwlock_rdlock(&e->lock);
    kgen = e->known_gen;
    pthread_rwlock_unlock(&e->lock);
    *gen = api_floor_to(now_ms - e->settle_ms, 1000);
    n = snprintf(key, keylen, "%d|%s|%llu|%s|%s", (int)rt->kind, ex, (unsigned long long)kgen,
                 rt->symbol, period ? period : API_PERIOD_DEFAULT);
    return n > 0 && (size_t)n < keylen ? 0 : -1;
}

int api_engine_answer_text(api_engine *e,
                           const api_route *rt,
                           const char *period,
                           int64_t now_ms,
                           char **text,
                           size_t *len) {
    char key[API_CACHE_KEY_MAX];
    int64_t gen;
    int st;
    if (e->cache == NULL || cache_key(e, rt, period, now_ms, key, sizeof(key), &gen) != 0)
        return answer_dumped(e, rt, period, now_ms, text, len);
    switch (api_cache_get(e->cache, key, gen, &st, text, len)) {
    case API_CACHE_HIT: return st;
    case API_CACHE_BYPASS: return answer_dumped(e, rt, period, now_ms, text, len);
    case API_CACHE_LEADER: break;
    }
    st = answer_dumped(e, rt, period, now_ms, text, len);
    if (st == 200 || st == 404)
        api_cache_fill(e->cache, key, gen, st, *text, *len);
    else
        api_cache_abandon(e->cache, key, gen);
    return st;
}
