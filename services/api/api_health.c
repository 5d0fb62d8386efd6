/* api_health.c: GET /health. Pings both stores (bounded by the connectors' timeouts), reads
 * the heartbeat tracker (health.c) and the newest latest price, and lets
 * api_health_verdict (pure, unit-tested) decide up / degraded / down. */
#include <string.h>

#include "api_internal.h"
#include "mf/util.h"

static json_t *store_component(api_store *st, int *up) {
    int64_t t0 = mf_mono_ns();
    mf_status r = st->ops->ping(st);
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

int api__health(api_service *s, struct _u_response *resp) {
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
    o = json_pack("{s:s, s:s, s:s, s:o}", "status", verdict, "mode",
                  mf_mode_str(api__mode_current(s)), "instance", s->app->instance, "components", c);
    json_object_set_new(o, "ts", json_integer(mf_now_ms()));
    return api__send_json(resp, strcmp(verdict, "down") == 0 ? 503 : 200, o);
}
