/* api.c: marketflow-api, the REST face of marketflow (docs/design.md section 7): the
 * service's lifecycle (start, heartbeat status, stop) and the known-exchange refresher.
 *
 * DESIGN
 * Threads:
 *   - libmicrohttpd's pool (API_HTTP_THREADS, api_http.c): handlers run there and are
 *     concurrent readers of everything below.
 *   - nats.c delivery threads for three core subscriptions (api_bus.c): <prefix>.latest.>
 *     feeds the latest map, <prefix>.status.> the health tracker, <prefix>.control.mode the
 *     cached mode (api_mode.c).
 *   - the refresher thread (here): every 2 s rebuilds the known-exchange set (configured
 *     feeds, the bus, Redis mf:exchanges; PostgreSQL every 30 s).
 *   - the heartbeat thread of mf_app.
 * Shared state and its locks (one lock each, never two held, no I/O under a lock): the
 * latest map (rwlock), the health tracker (mutex), the engine's known set (rwlock), the
 * connection pools (mutex), the mode (mutex, held across the POST read-decide-publish so
 * that concurrent POSTs answer consistently), the answer cache of the period routes (mutex +
 * condvar: one computation per key and second, concurrent misses wait for it; cache.h).
 * Route parsing, periods, planning and merging live in router.c, period.c, plan.c, agg.c and
 * engine.c (pure, unit-tested); store_redis.c and store_pg.c are the adapters; the routing
 * table is api_routes.c. */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/util.h"
#include "plan.h"

#define REFRESH_MS 2000
#define PG_REFRESH_EVERY 15 /* refresher rounds */

/* ---- known exchanges ----------------------------------------------------------------- */

static void add_endpoints(api_names *set, const char *list) {
    mf_endpoint eps[MF_MAX_FEEDS];
    char err[256];
    int n = 0;
    if (mf_endpoints_parse(list, eps, MF_MAX_FEEDS, &n, err, sizeof(err)) != MF_OK) return;
    for (int i = 0; i < n; i++) api_names_add(set, eps[i].name);
}

static void *refresher_main(void *arg) {
    api_service *s = arg;
    api_names pg_names;
    memset(&pg_names, 0, sizeof(pg_names));
    mf_thread_name("api-refresh");
    for (int round = 0; !atomic_load(&s->stop); round++) {
        api_names set;
        memset(&set, 0, sizeof(set));
        add_endpoints(&set, s->cfg->exchanges.live);
        add_endpoints(&set, s->cfg->exchanges.test);
        api_latest_map_exchanges(s->latest, &set);
        s->redis->ops->exchanges(s->redis, &set);
        if (round % PG_REFRESH_EVERY == 0) {
            api_names fresh;
            memset(&fresh, 0, sizeof(fresh));
            if (s->pg->ops->exchanges(s->pg, &fresh) == MF_OK) pg_names = fresh;
        }
        for (int i = 0; i < pg_names.n; i++) api_names_add(&set, pg_names.name[i]);
        api_engine_set_known(&s->engine, &set);
        for (int t = 0; t < REFRESH_MS / 50 && !atomic_load(&s->stop); t++) mf_sleep_ms(50);
    }
    return NULL;
}

/* ---- lifecycle ----------------------------------------------------------------------- */

static int64_t settle_ms(void) {
    const char *v = getenv("MARKETFLOW_API_SETTLE_MS"); /* hidden knob, see docs/api.md */
    int64_t ms = API_SETTLE_MS_DEFAULT;
    if (v && mf_parse_i64(v, 0, 60000, &ms) != 0) ms = API_SETTLE_MS_DEFAULT;
    return ms;
}

static int answer_cache_on(void) {
    const char *v = getenv("MARKETFLOW_API_ANSWER_CACHE"); /* hidden knob for benchmarks */
    return v == NULL || strcmp(v, "0") != 0;
}

static void init_counters(api_service *s) {
    s->requests = mf_counter("api_requests_total", "", "HTTP requests answered");
    s->r2xx = mf_counter("api_responses_total", "class=\"2xx\"", "HTTP responses by class");
    s->r4xx = mf_counter("api_responses_total", "class=\"4xx\"", "HTTP responses by class");
    s->r5xx = mf_counter("api_responses_total", "class=\"5xx\"", "HTTP responses by class");
    s->bad_bus = mf_counter("api_bad_bus_messages_total", "", "undecodable bus messages");
}

mf_status api_service_create(api_service **out, mf_app *app, int listen_fd) {
    api_service *s = mf_xcalloc(1, sizeof(*s));
    mf_status st;
    s->app = app;
    s->cfg = &app->cfg;
    s->listen_fd = listen_fd;
    init_counters(s);
    s->redis = api_store_redis_create(s->cfg, API_HTTP_THREADS + 2);
    s->pg = api_store_pg_create(s->cfg, API_HTTP_THREADS + 2);
    s->latest = api_latest_map_create();
    s->health = api_health_create();
    api_engine_init(&s->engine, s->redis, s->pg, s->latest, settle_ms(),
                    (int64_t)s->cfg->redis.retention_s * 1000);
    if (answer_cache_on()) s->cache = api_cache_create(API_CACHE_MAX_ENTRIES_DEFAULT);
    s->engine.cache = s->cache;
    api__mode_init(s);
    st = api__bus_subscribe(s);
    if (st == MF_OK && pthread_create(&s->refresher, NULL, refresher_main, s) == 0)
        s->refresher_started = 1;
    if (st == MF_OK) st = api__http_start(s);
    if (st != MF_OK) {
        api_service_destroy(s);
        return st;
    }
    mf_log(MF_LOG_INFO,
           "listening bind=%s port=%d threads=%d settle_ms=%lld retention_s=%d answer_cache=%s",
           s->cfg->api.bind, s->cfg->api.port, API_HTTP_THREADS, (long long)s->engine.settle_ms,
           s->cfg->redis.retention_s, s->cache ? "on" : "off");
    *out = s;
    return MF_OK;
}

void api_service_status(json_t *status, void *ctx) {
    api_service *s = ctx;
    json_object_set_new(status, "mode", json_string(mf_mode_str(api__mode_current(s))));
    json_object_set_new(status, "redis", json_string(s->redis->ops->up(s->redis) ? "up" : "down"));
    json_object_set_new(status, "postgres", json_string(s->pg->ops->up(s->pg) ? "up" : "down"));
    if (s->cache) {
        api_cache_stats cs;
        api_cache_stats_get(s->cache, &cs);
        json_object_set_new(status, "answer_cache",
                            json_pack("{s:I, s:I, s:I, s:I, s:i}", "hits", (json_int_t)cs.hits,
                                      "misses", (json_int_t)cs.misses, "waits",
                                      (json_int_t)cs.waits, "bypasses", (json_int_t)cs.bypasses,
                                      "entries", cs.entries));
    }
}

void api_service_stop(api_service *s) {
    if (s == NULL || s->stopped) return;
    s->stopped = 1;
    api__http_stop(s);
    atomic_store(&s->stop, 1);
    if (s->refresher_started) pthread_join(s->refresher, NULL);
    s->refresher_started = 0;
    api__bus_unsubscribe(s);
}

void api_service_destroy(api_service *s) {
    if (s == NULL) return;
    api_service_stop(s);
    api_engine_cleanup(&s->engine);
    api_cache_destroy(s->cache);
    api_health_destroy(s->health);
    api_latest_map_destroy(s->latest);
    s->redis->ops->destroy(s->redis);
    s->pg->ops->destroy(s->pg);
    api__mode_cleanup(s);
    free(s);
}
