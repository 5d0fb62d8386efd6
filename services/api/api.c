/* api.c: marketflow-api, the REST face of marketflow (DESIGN section 7).
 *
 * DESIGN
 * Threads:
 *   - libmicrohttpd in epoll mode with a small thread pool (API_HTTP_THREADS): each pool
 *     thread multiplexes many connections, so slow or idle clients hold a socket (closed
 *     after api.timeout_s) but never a thread. Handlers run on these threads and are
 *     concurrent readers of everything below.
 *   - nats.c delivery threads for three core subscriptions: <prefix>.latest.> feeds the
 *     latest map, <prefix>.status.> the health tracker, <prefix>.control.mode the cached mode.
 *   - the refresher thread: every 2 s rebuilds the known-exchange set (configured feeds,
 *     the bus, Redis mf:exchanges; PostgreSQL every 30 s).
 *   - the heartbeat thread of mf_app.
 * Shared state and its locks (one lock each, never two held, no I/O under a lock): the
 * latest map (rwlock), the health tracker (mutex), the engine's known set (rwlock), the
 * connection pools (mutex), the mode (mutex, held across the POST read-decide-publish so
 * that concurrent POSTs answer consistently), the answer cache of the period routes (mutex +
 * condvar: one computation per key and second, concurrent misses wait for it; cache.h).
 * Route parsing, periods, planning and merging live in router.c, period.c, plan.c, agg.c and
 * engine.c (pure, unit-tested); store_redis.c and store_pg.c are the adapters. */
#include "api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <ulfius.h>
#include <unistd.h>

#include "cache.h"
#include "engine.h"
#include "health.h"
#include "plan.h"
#include "latest_map.h"
#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/signals.h"
#include "mf/util.h"
#include "router.h"

#define API_HTTP_THREADS 4
#define REFRESH_MS 2000
#define PG_REFRESH_EVERY 15 /* refresher rounds */

struct api_service {
    mf_app *app;
    const mf_config *cfg;
    struct _u_instance http;
    int http_started;
    int listen_fd;
    api_store *redis, *pg;
    api_latest_map *latest;
    api_health *health;
    api_engine engine;
    api_cache *cache;
    natsSubscription *sub_latest, *sub_status, *sub_mode;
    pthread_t refresher;
    int refresher_started;
    atomic_int stop;
    pthread_mutex_t mode_mu;
    mf_mode mode, previous;
    int64_t mode_at;
    char mode_by[96];
    atomic_llong *requests, *r2xx, *r4xx, *r5xx, *bad_bus;
};

/* ---- responses ----------------------------------------------------------------------- */

static int send_json(struct _u_response *resp, int status, json_t *body) {
    char *s = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(body);
    if (s == NULL) s = mf_xstrdup("{\"error\":\"internal error\"}"), status = 500;
    ulfius_set_binary_body_response(resp, (unsigned)status, s, strlen(s));
    u_map_put(resp->map_header, "Content-Type", "application/json");
    free(s);
    return U_CALLBACK_COMPLETE;
}

static int send_error(struct _u_response *resp, int status, const char *msg) {
    return send_json(resp, status, api_error_json(msg));
}

static void count_status(api_service *s, int status) {
    atomic_fetch_add(s->requests, 1);
    if (status < 400)
        atomic_fetch_add(s->r2xx, 1);
    else if (status < 500)
        atomic_fetch_add(s->r4xx, 1);
    else
        atomic_fetch_add(s->r5xx, 1);
}

/* ---- mode ---------------------------------------------------------------------------- */

static int
mode_from_json(const char *data, size_t len, mf_mode *m, int64_t *at, char *by, size_t bylen) {
    json_t *o = json_loadb(data, len, 0, NULL);
    const char *ms = json_string_value(json_object_get(o, "mode"));
    int rc = (ms && mf_mode_parse(ms, m) == 0) ? 0 : -1;
    if (rc == 0) {
        *at = json_integer_value(json_object_get(o, "at"));
        const char *b = json_string_value(json_object_get(o, "by"));
        snprintf(by, bylen, "%s", b ? b : "");
    }
    json_decref(o);
    return rc;
}

static void mode_set_locked(api_service *s, mf_mode m, int64_t at, const char *by) {
    if (m != s->mode) s->previous = s->mode;
    s->mode = m;
    s->mode_at = at;
    snprintf(s->mode_by, sizeof(s->mode_by), "%s", by);
}

/* Reads the kept mode from the CONTROL stream. 1 when one was found. */
static int mode_read_stream(api_service *s, mf_mode *m, int64_t *at, char *by, size_t bylen) {
    char subject[128], *data = NULL;
    int len = 0, found = 0;
    if (mf_nats_js(s->app->nats) == NULL) return 0;
    mf_nats_subject(s->app->nats, subject, sizeof(subject), "control.mode");
    if (mf_nats_last_msg(s->app->nats, MF_STREAM_CONTROL, subject, &data, &len) == MF_OK)
        found = mode_from_json(data, (size_t)len, m, at, by, bylen) == 0;
    free(data);
    return found;
}

static mf_status mode_publish(api_service *s, mf_mode m, int64_t at) {
    char subject[128], body[256];
    natsStatus ns;
    mf_nats_subject(s->app->nats, subject, sizeof(subject), "control.mode");
    snprintf(body, sizeof(body), "{\"mode\":\"%s\",\"at\":%lld,\"by\":\"api/%s\"}", mf_mode_str(m),
             (long long)at, s->app->instance);
    if (mf_nats_js(s->app->nats)) {
        jsErrCode jerr = 0;
        jsPubAck *pa = NULL;
        ns = js_Publish(&pa, mf_nats_js(s->app->nats), subject, body, (int)strlen(body), NULL,
                        &jerr);
        jsPubAck_Destroy(pa);
    } else {
        ns = natsConnection_PublishString(mf_nats_conn(s->app->nats), subject, body);
        if (ns == NATS_OK) ns = natsConnection_FlushTimeout(mf_nats_conn(s->app->nats), 2000);
    }
    return ns == NATS_OK ? MF_OK : mf_nats_fail(ns, "publish mode");
}

static json_t *mode_json(mf_mode m, mf_mode prev, int changed) {
    return json_pack("{s:s, s:s, s:b}", "mode", mf_mode_str(m), "previous", mf_mode_str(prev),
                     "changed", changed);
}

static int token_ok(const char *want, const char *auth) {
    size_t n = strlen(want), diff = 0;
    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) return 0;
    auth += 7;
    if (strlen(auth) != n) return 0;
    for (size_t i = 0; i < n; i++) diff |= (size_t)(want[i] ^ auth[i]); /* constant time */
    return diff == 0;
}

static int handle_mode_set(api_service *s,
                           const struct _u_request *req,
                           struct _u_response *resp,
                           const api_route *rt) {
    mf_mode want, cur, prev;
    int64_t at = 0;
    char by[96] = "";
    int kept, changed;
    if (s->cfg->api.mode_token[0] &&
        !token_ok(s->cfg->api.mode_token, u_map_get_case(req->map_header, "Authorization"))) {
        u_map_put(resp->map_header, "WWW-Authenticate", "Bearer realm=\"marketflow\"");
        return send_error(resp, 401, "POST /mode needs 'Authorization: Bearer <api.mode_token>'");
    }
    mf_mode_parse(rt->mode, &want);
    pthread_mutex_lock(&s->mode_mu);
    kept = mode_read_stream(s, &cur, &at, by, sizeof(by));
    if (!kept) cur = s->mode;
    prev = cur;
    changed = cur != want;
    if ((changed || !kept) && mode_publish(s, want, mf_now_ms()) != MF_OK) {
        pthread_mutex_unlock(&s->mode_mu);
        return send_error(resp, 503, "could not publish the mode on NATS; retry later");
    }
    if (changed || !kept) mode_set_locked(s, want, mf_now_ms(), "api");
    pthread_mutex_unlock(&s->mode_mu);
    if (changed)
        mf_log(MF_LOG_INFO, "mode switched mode=%s previous=%s", rt->mode, mf_mode_str(prev));
    return send_json(resp, 200, mode_json(want, prev, changed));
}

static int handle_mode_get(api_service *s, struct _u_response *resp) {
    json_t *o;
    pthread_mutex_lock(&s->mode_mu);
    o = mode_json(s->mode, s->previous, 0);
    if (s->mode_at) json_object_set_new(o, "at", json_integer(s->mode_at));
    if (s->mode_by[0]) json_object_set_new(o, "by", json_string(s->mode_by));
    pthread_mutex_unlock(&s->mode_mu);
    return send_json(resp, 200, o);
}

/* ---- health -------------------------------------------------------------------------- */

static json_t *store_component(api_store *st, int *up) {
    int64_t t0 = mf_mono_ns();
    mf_status r = st->ping(st);
    *up = r == MF_OK;
    if (*up)
        return json_pack("{s:s, s:f}", "status", "up", "latency_ms",
                         (double)(mf_mono_ns() - t0) / 1e6);
    return json_pack("{s:s, s:s}", "status", "down", "error", mf_status_str(r));
}

static json_t *role(api_service *s, const char *svc, int64_t now, int *alive) {
    json_t *arr = api_health_service(s->health, svc, now, alive);
    return json_pack("{s:i, s:o}", "alive", *alive, "instances", arr);
}

static int handle_health(api_service *s, struct _u_response *resp) {
    api_health_in in = {0};
    int64_t now = mf_mono_ms(), newest = api_latest_map_newest(s->latest);
    json_t *c = json_object(), *o;
    const char *verdict;
    in.nats_up = mf_nats_connected(s->app->nats);
    json_object_set_new(c, "nats", json_pack("{s:s}", "status", in.nats_up ? "up" : "down"));
    json_object_set_new(c, "redis", store_component(s->redis, &in.redis_up));
    json_object_set_new(c, "postgres", store_component(s->pg, &in.pg_up));
    json_object_set_new(c, "collectors", role(s, "collector", now, &in.collectors));
    json_object_set_new(c, "aggregators", role(s, "aggregator", now, &in.aggregators));
    json_object_set_new(c, "persisters", role(s, "persister", now, &in.persisters));
    json_object_set_new(c, "data",
                        json_pack("{s:I, s:I}", "latest_ts", (json_int_t)newest, "age_ms",
                                  newest ? (json_int_t)(mf_now_ms() - newest) : (json_int_t)-1));
    verdict = api_health_verdict(&in);
    pthread_mutex_lock(&s->mode_mu);
    o = json_pack("{s:s, s:s, s:s, s:o}", "status", verdict, "mode", mf_mode_str(s->mode),
                  "instance", s->app->instance, "components", c);
    pthread_mutex_unlock(&s->mode_mu);
    json_object_set_new(o, "ts", json_integer(mf_now_ms()));
    return send_json(resp, strcmp(verdict, "down") == 0 ? 503 : 200, o);
}

/* ---- dispatch ------------------------------------------------------------------------ */

static int body_too_large(api_service *s, const struct _u_request *req) {
    const char *cl = u_map_get_case(req->map_header, "Content-Length");
    int64_t n = 0;
    if (req->binary_body_length > (size_t)s->cfg->api.max_body) return 1;
    return cl && (mf_parse_i64(cl, 0, INT64_MAX, &n) != 0 || n > s->cfg->api.max_body);
}

/* Price routes: serialized by the engine, period routes through the answer cache. */
static int send_answer(api_service *s,
                       struct _u_response *resp,
                       const api_route *rt,
                       const char *period,
                       int *status) {
    char *text = NULL;
    size_t len = 0;
    *status = api_engine_answer_text(&s->engine, rt, period, mf_now_ms(), &text, &len);
    ulfius_set_binary_body_response(resp, (unsigned)*status, text, len);
    u_map_put(resp->map_header, "Content-Type", "application/json");
    free(text);
    return U_CALLBACK_COMPLETE;
}

static int
dispatch(api_service *s, const struct _u_request *req, struct _u_response *resp, int *status) {
    char allow[32], err[256];
    api_route rt;
    api_route_result r;
    if (body_too_large(s, req))
        return send_error(resp, *status = 413, "request body too large (see api.max_body)");
    r = api_route_parse(req->http_verb, req->url_path, &rt, allow, sizeof(allow), err, sizeof(err));
    if (r == API_ROUTE_NOT_FOUND)
        return send_error(resp, *status = 404, "no such route; see GET /openapi.json");
    if (r == API_ROUTE_BAD_METHOD) {
        u_map_put(resp->map_header, "Allow", allow);
        snprintf(err, sizeof(err), "method %s not allowed here; allowed: %s", req->http_verb,
                 allow);
        return send_error(resp, *status = 405, err);
    }
    if (r == API_ROUTE_BAD_INPUT) return send_error(resp, *status = 400, err);
    switch (rt.kind) {
    case API_R_MODE_GET: *status = 200; return handle_mode_get(s, resp);
    case API_R_MODE_SET: *status = 200; return handle_mode_set(s, req, resp, &rt);
    case API_R_HEALTH: *status = 200; return handle_health(s, resp);
    case API_R_OPENAPI:
        *status = 200;
        ulfius_set_binary_body_response(resp, 200, (const char *)api_openapi_json,
                                        api_openapi_json_len);
        u_map_put(resp->map_header, "Content-Type", "application/json");
        return U_CALLBACK_COMPLETE;
    case API_R_PING: *status = 200; return send_json(resp, 200, json_pack("{s:b}", "pong", 1));
    default: break;
    }
    return send_answer(s, resp, &rt, u_map_get(req->map_url, "period"), status);
}

static int on_request(const struct _u_request *req, struct _u_response *resp, void *ctx) {
    api_service *s = ctx;
    int status = 500, rc = dispatch(s, req, resp, &status);
    count_status(s, (int)resp->status);
    (void)status;
    return rc;
}

/* The no-work route of the benchmark: a plain ulfius endpoint. */
static int on_ping(const struct _u_request *req, struct _u_response *resp, void *ctx) {
    (void)req, (void)ctx;
    ulfius_set_string_body_response(resp, 200, "{\"pong\":true}");
    u_map_put(resp->map_header, "Content-Type", "application/json");
    return U_CALLBACK_COMPLETE;
}

/* ---- HTTP server --------------------------------------------------------------------- */

/* Binds and listens ourselves so that a port in use is reported with its errno. */
int api_listen_open(const mf_config *cfg) {
    struct sockaddr_in a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)cfg->api.port);
    if (inet_pton(AF_INET, cfg->api.bind, &a.sin_addr) != 1) {
        fprintf(stderr, "marketflow-api: api.bind '%s' is not an IPv4 address\n", cfg->api.bind);
        if (fd >= 0) close(fd);
        return -1;
    }
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 1024) != 0) {
        fprintf(stderr, "marketflow-api: cannot listen on %s:%d: %s\n", cfg->api.bind,
                cfg->api.port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static mf_status http_start(api_service *s) {
    const mf_config *cfg = s->cfg;
    struct MHD_OptionItem ops[] = {
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)mhd_request_completed, NULL},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)ulfius_uri_logger, NULL},
        {MHD_OPTION_LISTEN_SOCKET, s->listen_fd, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, cfg->api.timeout_s, NULL},
        {MHD_OPTION_THREAD_POOL_SIZE, API_HTTP_THREADS, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, 4096, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    if (ulfius_init_instance(&s->http, (unsigned)cfg->api.port, NULL, NULL) != U_OK) return MF_ERR;
    s->http.max_post_body_size = (size_t)cfg->api.max_body + 1; /* +1: detect overflow */
    s->http.timeout = (unsigned)cfg->api.timeout_s;
    ulfius_add_endpoint_by_val(&s->http, "GET", "/ping", NULL, 0, on_ping, s);
    ulfius_set_default_endpoint(&s->http, on_request, s);
    if (ulfius_start_framework_with_mhd_options(&s->http, MHD_USE_EPOLL_INTERNAL_THREAD, ops) !=
        U_OK) {
        fprintf(stderr, "marketflow-api: cannot start the HTTP server on %s:%d\n", cfg->api.bind,
                cfg->api.port);
        ulfius_clean_instance(&s->http);
        return MF_ERR_IO;
    }
    s->http_started = 1;
    return MF_OK;
}

/* ---- bus subscriptions --------------------------------------------------------------- */

static void on_latest(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *ctx) {
    api_service *s = ctx;
    (void)nc, (void)sub;
    if (api_latest_map_put_json(s->latest, natsMsg_GetData(msg),
                                (size_t)natsMsg_GetDataLength(msg)) != MF_OK) {
        atomic_fetch_add(s->bad_bus, 1);
        mf_log_ratelimited(MF_LOG_WARN, 10000, "bad latest message subject=%s",
                           natsMsg_GetSubject(msg));
    }
    natsMsg_Destroy(msg);
}

static void on_status(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *ctx) {
    api_service *s = ctx;
    (void)nc, (void)sub;
    if (api_health_put(s->health, natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg),
                       mf_mono_ms()) != 0) {
        atomic_fetch_add(s->bad_bus, 1);
        mf_log_ratelimited(MF_LOG_WARN, 10000, "bad status message subject=%s",
                           natsMsg_GetSubject(msg));
    }
    natsMsg_Destroy(msg);
}

static void on_mode(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *ctx) {
    api_service *s = ctx;
    mf_mode m;
    int64_t at = 0;
    char by[96];
    (void)nc, (void)sub;
    if (mode_from_json(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &m, &at, by,
                       sizeof(by)) == 0) {
        pthread_mutex_lock(&s->mode_mu);
        mode_set_locked(s, m, at, by);
        pthread_mutex_unlock(&s->mode_mu);
    } else {
        atomic_fetch_add(s->bad_bus, 1);
        mf_log_ratelimited(MF_LOG_WARN, 10000, "bad mode message ignored");
    }
    natsMsg_Destroy(msg);
}

static mf_status
subscribe(api_service *s, natsSubscription **sub, const char *what, natsMsgHandler cb) {
    char subject[128];
    natsStatus ns;
    mf_nats_subject(s->app->nats, subject, sizeof(subject), "%s", what);
    ns = natsConnection_Subscribe(sub, mf_nats_conn(s->app->nats), subject, cb, s);
    if (ns == NATS_OK) ns = natsSubscription_SetPendingLimits(*sub, 1000000, 256 * 1024 * 1024);
    return ns == NATS_OK ? MF_OK : mf_nats_fail(ns, "subscribe");
}

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
        s->redis->exchanges(s->redis, &set);
        if (round % PG_REFRESH_EVERY == 0) {
            api_names fresh;
            memset(&fresh, 0, sizeof(fresh));
            if (s->pg->exchanges(s->pg, &fresh) == MF_OK) pg_names = fresh;
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

static void init_mode(api_service *s) {
    int64_t at = 0;
    char by[96] = "";
    mf_mode m = s->cfg->exchanges.mode;
    s->mode = s->previous = m;
    if (mode_read_stream(s, &m, &at, by, sizeof(by))) mode_set_locked(s, m, at, by);
    s->previous = s->mode;
}

mf_status api_service_start(api_service **out, mf_app *app, int listen_fd) {
    api_service *s = mf_xcalloc(1, sizeof(*s));
    mf_status st;
    s->app = app;
    s->cfg = &app->cfg;
    s->listen_fd = listen_fd;
    pthread_mutex_init(&s->mode_mu, NULL);
    init_counters(s);
    s->redis = api_store_redis_create(s->cfg, API_HTTP_THREADS + 2);
    s->pg = api_store_pg_create(s->cfg, API_HTTP_THREADS + 2);
    s->latest = api_latest_map_create();
    s->health = api_health_create();
    api_engine_init(&s->engine, s->redis, s->pg, s->latest, settle_ms(),
                    (int64_t)s->cfg->redis.retention_s * 1000);
    if (answer_cache_on()) s->cache = api_cache_create(API_CACHE_MAX_ENTRIES_DEFAULT);
    s->engine.cache = s->cache;
    init_mode(s);
    st = subscribe(s, &s->sub_latest, "latest.>", on_latest);
    if (st == MF_OK) st = subscribe(s, &s->sub_status, "status.>", on_status);
    if (st == MF_OK) st = subscribe(s, &s->sub_mode, "control.mode", on_mode);
    if (st == MF_OK && pthread_create(&s->refresher, NULL, refresher_main, s) == 0)
        s->refresher_started = 1;
    if (st == MF_OK) st = http_start(s);
    if (st != MF_OK) {
        api_service_stop(s);
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
    pthread_mutex_lock(&s->mode_mu);
    json_object_set_new(status, "mode", json_string(mf_mode_str(s->mode)));
    pthread_mutex_unlock(&s->mode_mu);
    json_object_set_new(status, "redis", json_string(s->redis->up(s->redis) ? "up" : "down"));
    json_object_set_new(status, "postgres", json_string(s->pg->up(s->pg) ? "up" : "down"));
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
    if (s == NULL) return;
    if (s->http_started) {
        ulfius_stop_framework(&s->http);
        ulfius_clean_instance(&s->http);
    }
    if (s->listen_fd >= 0) close(s->listen_fd);
    atomic_store(&s->stop, 1);
    if (s->refresher_started) pthread_join(s->refresher, NULL);
    natsSubscription_Unsubscribe(s->sub_latest);
    natsSubscription_Unsubscribe(s->sub_status);
    natsSubscription_Unsubscribe(s->sub_mode);
    natsSubscription_Destroy(s->sub_latest);
    natsSubscription_Destroy(s->sub_status);
    natsSubscription_Destroy(s->sub_mode);
    api_engine_cleanup(&s->engine);
    api_cache_destroy(s->cache);
    api_health_destroy(s->health);
    api_latest_map_destroy(s->latest);
    s->redis->destroy(s->redis);
    s->pg->destroy(s->pg);
    pthread_mutex_destroy(&s->mode_mu);
    free(s);
}
