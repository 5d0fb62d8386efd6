/* libFuzzer target: the api's request handling core without sockets. The input is a request
 * line "METHOD PATH[?QUERY]" (then optional bytes that shape the fake stores' data). It is
 * routed (services/api/router.c) and, for a price route, answered by the engine
 * (services/api/engine.c: exchange resolution, period parsing, plan, exact merge, JSON) over
 * fake Redis and PostgreSQL stores. Never a crash, never a 500: every answer is one of the
 * statuses of docs/design.md section 7 with a JSON body. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "mf/util.h"
#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fake {
    int up, fail;
    api_agg data;
} fake;

static int f_up(api_store *s) {
    return ((fake *)s->impl)->up;
}
static mf_status f_ping(api_store *s) {
    return ((fake *)s->impl)->fail ? MF_ERR_DB : MF_OK;
}
static mf_status f_latest(api_store *s, const api_query *q, api_latest *out) {
    fake *f = s->impl;
    if (f->fail) return MF_ERR_DB;
    if (f->data.st.count == 0) return MF_ERR_NOT_FOUND;
    mf_strlcpy(out->exchange, f->data.max_exchange, sizeof(out->exchange));
    mf_strlcpy(out->symbol, q->symbol, sizeof(out->symbol));
    out->price = f->data.st.max;
    out->ts = f->data.st.max_ts;
    return MF_OK;
}
static mf_status f_range(api_store *s, const api_query *q, const mf_xsum *plus, api_agg *out) {
    fake *f = s->impl;
    (void)q;
    if (f->fail) return MF_ERR_DB;
    *out = f->data;
    if (plus) {
        mf_xsum t = f->data.st.sum;
        mf_xsum_merge(&t, plus);
        out->sum_final = 1;
        out->sum_value = mf_xsum_value(&t);
    }
    return MF_OK;
}
static mf_status f_exchanges(api_store *s, api_names *out) {
    (void)s, (void)out;
    return MF_OK;
}

/* Store state from one control byte: up/fail and how many ticks it holds. */
static void shape(fake *f, uint8_t b, double price) {
    mf_xsum s;
    f->up = !(b & 1);
    f->fail = (b & 2) != 0;
    api_agg_init(&f->data);
    for (int i = 0; i < ((b >> 2) & 3); i++) {
        mf_xsum_init(&s);
        mf_xsum_add(&s, price * (i + 1));
        api_agg_add(&f->data, (b & 16) ? "exchange2" : "exchange1", 1, &s, price * (i + 1),
                    1742457126000LL - i * 1000, price * (i + 1), 1742457126000LL - i * 1000);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *nl = memchr(data, '\n', size);
    size_t line = nl ? (size_t)(nl - (const char *)data) : size;
    const uint8_t *ctl = nl ? (const uint8_t *)nl + 1 : NULL;
    size_t nctl = nl ? size - line - 1 : 0;
    char *req = malloc(line + 1), *path, *query, *period = NULL;
    char allow[64], err[256];
    api_route rt;
    api_route_result rr;
    if (req == NULL) return 0;
    memcpy(req, data, line);
    req[line] = '\0';
    path = strchr(req, ' ');
    if (path)
        *path++ = '\0';
    else
        path = req + line;
    query = strchr(path, '?');
    if (query) {
        *query++ = '\0';
        for (char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
            if (strncmp(p, "period=", 7) == 0) {
                period = p + 7;
                break;
            }
        }
        if (period && strchr(period, '&')) *strchr(period, '&') = '\0';
    }
    memset(&rt, 0, sizeof(rt));
    allow[0] = err[0] = '\0';
    rr = api_route_parse(req, path, &rt, allow, sizeof(allow), err, sizeof(err));
    MF_ASSERT(rr == API_ROUTE_OK || rr == API_ROUTE_NOT_FOUND || rr == API_ROUTE_BAD_METHOD ||
              rr == API_ROUTE_BAD_INPUT);
    if (rr == API_ROUTE_BAD_METHOD) MF_ASSERT(allow[0] != '\0');
    if (rr == API_ROUTE_BAD_INPUT) MF_ASSERT(err[0] != '\0');
    if (rr == API_ROUTE_OK && rt.kind >= API_R_LATEST && rt.kind <= API_R_AVERAGE) {
        fake fr, fp;
        static const api_store_ops r_ops = {.name = "redis",
                                            .up = f_up,
                                            .ping = f_ping,
                                            .latest = f_latest,
                                            .range = f_range,
                                            .exchanges = f_exchanges};
        static const api_store_ops p_ops = {.name = "postgres",
                                            .up = f_up,
                                            .ping = f_ping,
                                            .latest = f_latest,
                                            .range = f_range,
                                            .exchanges = f_exchanges};
        api_store r = {.ops = &r_ops, .impl = &fr};
        api_store p = {.ops = &p_ops, .impl = &fp};
        api_names known = {0};
        api_engine e;
        api_latest_map *m = api_latest_map_create();
        json_t *body = NULL;
        int status;
        shape(&fr, nctl > 0 ? ctl[0] : 4, 100.25);
        shape(&fp, nctl > 1 ? ctl[1] : 4, 3050.5);
        api_engine_init(&e, &r, &p, m, 2000, 600000);
        api_names_add(&known, "exchange1");
        api_names_add(&known, "exchange2");
        api_engine_set_known(&e, &known);
        status = api_engine_answer(&e, &rt, period, 1742457126123LL, &body);
        MF_ASSERT(status == 200 || status == 400 || status == 404 || status == 503);
        MF_ASSERT(body != NULL && json_is_object(body));
        if (status != 200) MF_ASSERT(json_is_string(json_object_get(body, "error")));
        {
            char *txt = json_dumps(body, JSON_COMPACT);
            MF_ASSERT(txt != NULL);
            free(txt);
        }
        json_decref(body);
        api_engine_cleanup(&e);
        api_latest_map_destroy(m);
    }
    free(req);
    return 0;
}
