/* Unit tests of the engine with fake price stores (services/api/engine.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

typedef struct fake {
    int up;   /* what up() says */
    int fail; /* range/latest fail with MF_ERR_DB */
    int calls;
    api_agg data; /* what range returns */
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
    strcpy(out->exchange, f->data.max_exchange);
    strcpy(out->symbol, q->symbol);
    out->price = f->data.st.max;
    out->ts = f->data.st.max_ts;
    return MF_OK;
}
static mf_status f_range(api_store *s, const api_query *q, const mf_xsum *plus, api_agg *out) {
    fake *f = s->impl;
    (void)q;
    f->calls++;
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

static const api_store_ops fake_redis_ops = {.name = "redis",
                                             .up = f_up,
                                             .ping = f_ping,
                                             .latest = f_latest,
                                             .range = f_range,
                                             .exchanges = f_exchanges};
static const api_store_ops fake_pg_ops = {.name = "postgres",
                                          .up = f_up,
                                          .ping = f_ping,
                                          .latest = f_latest,
                                          .range = f_range,
                                          .exchanges = f_exchanges};

static api_store make_store(const api_store_ops *ops, fake *f) {
    api_store s = {.ops = ops, .impl = f};
    return s;
}

static void one_tick(api_agg *a, const char *ex, double p, int64_t ts) {
    mf_xsum s;
    mf_xsum_init(&s);
    mf_xsum_add(&s, p);
    api_agg_add(a, ex, 1, &s, p, ts, p, ts);
}

typedef struct world {
    fake fr, fp;
    api_store r, p;
    api_engine e;
    api_latest_map *m;
} world;

static void setup(world *w) {
    api_names known = {0};
    memset(w, 0, sizeof(*w));
    w->fr.up = w->fp.up = 1;
    api_agg_init(&w->fr.data);
    api_agg_init(&w->fp.data);
    w->r = make_store(&fake_redis_ops, &w->fr);
    w->p = make_store(&fake_pg_ops, &w->fp);
    w->m = api_latest_map_create();
    api_engine_init(&w->e, &w->r, &w->p, w->m, 2000, 600000);
    api_names_add(&known, "exchange1");
    api_names_add(&known, "exchange2");
    api_engine_set_known(&w->e, &known);
}

static void teardown(world *w) {
    api_engine_cleanup(&w->e);
    api_latest_map_destroy(w->m);
}

static int ask(world *w, api_route_kind k, const char *ex, const char *period, json_t **body) {
    api_route rt = {.kind = k};
    strcpy(rt.exchange, ex);
    strcpy(rt.symbol, "BTCUSDT");
    return api_engine_answer(&w->e, &rt, period, 1742457126123LL, body);
}

static void test_redis_answer(void **st) {
    world w;
    json_t *b;
    (void)st;
    setup(&w);
    one_tick(&w.fr.data, "exchange2", 10.0, 5);
    one_tick(&w.fr.data, "exchange1", 20.0, 6);
    assert_int_equal(ask(&w, API_R_AVERAGE, "", "5s", &b), 200);
    assert_true(json_real_value(json_object_get(b, "price")) == 15.0);
    assert_int_equal(json_integer_value(json_object_get(b, "count")), 2);
    assert_string_equal(json_string_value(json_object_get(b, "source")), "redis");
    assert_string_equal(json_string_value(json_object_get(b, "exchange")), "all");
    json_decref(b);
    assert_int_equal(ask(&w, API_R_HIGHEST, "EXCHANGE1", "5s", &b), 200);
    assert_string_equal(json_string_value(json_object_get(b, "exchange")), "exchange1");
    assert_int_equal(json_integer_value(json_object_get(b, "timestamp")), 6);
    json_decref(b);
    teardown(&w);
}

static void test_fallback(void **st) {
    world w;
    json_t *b;
    (void)st;
    setup(&w);
    w.fr.fail = 1; /* up() claims 1, the read fails: re-plan without Redis */
    one_tick(&w.fp.data, "exchange1", 7.0, 5);
    assert_int_equal(ask(&w, API_R_LOWEST, "", "5m", &b), 200);
    assert_string_equal(json_string_value(json_object_get(b, "source")), "postgres");
    assert_true(json_real_value(json_object_get(b, "price")) == 7.0);
    json_decref(b);
    w.fp.fail = 1;
    assert_int_equal(ask(&w, API_R_LOWEST, "", "5m", &b), 503);
    json_decref(b);
    teardown(&w);
}

static void test_long_period_exact(void **st) {
    world w;
    json_t *b;
    (void)st;
    setup(&w);
    one_tick(&w.fr.data, "exchange1", 1e16, 5);
    one_tick(&w.fp.data, "exchange1", 1.0, 6);
    one_tick(&w.fp.data, "exchange1", -1e16, 7);
    w.fp.data.st.count = 2;
    assert_int_equal(ask(&w, API_R_AVERAGE, "", "1h", &b), 200);
    assert_string_equal(json_string_value(json_object_get(b, "source")), "redis+postgres");
    assert_int_equal(json_integer_value(json_object_get(b, "count")), 3);
    assert_true(json_real_value(json_object_get(b, "price")) == 1.0 / 3.0);
    json_decref(b);
    teardown(&w);
}

static void test_errors(void **st) {
    world w;
    json_t *b;
    (void)st;
    setup(&w);
    assert_int_equal(ask(&w, API_R_AVERAGE, "", "5m", &b), 404);
    json_decref(b);
    assert_int_equal(ask(&w, API_R_AVERAGE, "exchange9", "5m", &b), 400);
    assert_non_null(strstr(json_string_value(json_object_get(b, "error")), "known: all, "
                                                                           "exchange1"));
    json_decref(b);
    assert_int_equal(ask(&w, API_R_AVERAGE, "", "0s", &b), 400);
    json_decref(b);
    assert_int_equal(ask(&w, API_R_AVERAGE, "", "5x", &b), 400);
    json_decref(b);
    /* Bytes that are not UTF-8 (found by fuzz_http_route): still a 400 with a JSON error. */
    assert_int_equal(ask(&w, API_R_AVERAGE, "", "5m\xff\xff\x04", &b), 400);
    assert_non_null(b);
    assert_non_null(strstr(json_string_value(json_object_get(b, "error")), "'5m\?\?\?'"));
    json_decref(b);
    teardown(&w);
}

static void test_latest(void **st) {
    world w;
    json_t *b;
    (void)st;
    setup(&w);
    assert_int_equal(ask(&w, API_R_LATEST, "", NULL, &b), 404);
    json_decref(b);
    api_latest_map_put(w.m, "exchange1", "BTCUSDT", 1.5, 100);
    api_latest_map_put(w.m, "exchange2", "BTCUSDT", 2.5, 101);
    api_latest_map_put(w.m, "exchange2", "BTCUSDT", 9.5, 50); /* older: ignored */
    assert_int_equal(ask(&w, API_R_LATEST, "", NULL, &b), 200);
    assert_true(json_real_value(json_object_get(b, "price")) == 2.5);
    assert_string_equal(json_string_value(json_object_get(b, "source")), "bus");
    json_decref(b);
    assert_int_equal(ask(&w, API_R_LATEST, "exchange1", NULL, &b), 200);
    assert_true(json_real_value(json_object_get(b, "price")) == 1.5);
    json_decref(b);
    teardown(&w);
}

static int ask_text(world *w, api_route_kind k, const char *ex, int64_t now, char **t) {
    api_route rt = {.kind = k};
    size_t len;
    strcpy(rt.exchange, ex);
    strcpy(rt.symbol, "BTCUSDT");
    return api_engine_answer_text(&w->e, &rt, "5s", now, t, &len);
}

/* The answer cache: one store read per key and second (`to` = now - 2 s, whole seconds);
 * a new `to`, another key or a changed known set reads again; 503 is never cached. */
static void test_cached_answers(void **st) {
    world w;
    api_names known = {0};
    char *a, *b;
    const int64_t t0 = 1742457126000LL; /* to = ...124000 for now in [t0, t0 + 1000) */
    (void)st;
    setup(&w);
    w.e.cache = api_cache_create(16);
    one_tick(&w.fr.data, "exchange1", 10.0, 5);
    assert_int_equal(ask_text(&w, API_R_AVERAGE, "", t0 + 1, &a), 200);
    one_tick(&w.fr.data, "exchange1", 20.0, 6); /* a late correction inside the same `to` */
    assert_int_equal(ask_text(&w, API_R_AVERAGE, "", t0 + 999, &b), 200);
    assert_int_equal(w.fr.calls, 1);
    assert_string_equal(a, b);
    assert_non_null(strstr(a, "\"price\":10.0"));
    free(b);
    assert_int_equal(ask_text(&w, API_R_AVERAGE, "", t0 + 1000, &b), 200); /* `to` moved */
    assert_int_equal(w.fr.calls, 2);
    assert_non_null(strstr(b, "\"price\":15.0"));
    free(a), free(b);
    assert_int_equal(ask_text(&w, API_R_HIGHEST, "", t0 + 1000, &a), 200); /* other kind */
    assert_int_equal(ask_text(&w, API_R_HIGHEST, "EXCHANGE1", t0 + 1000, &b), 200);
    free(a), free(b);
    assert_int_equal(ask_text(&w, API_R_HIGHEST, "exchange1", t0 + 1000, &a), 200);
    assert_int_equal(w.fr.calls, 4); /* exchange spelling is case-insensitive */
    free(a);
    api_names_add(&known, "exchange1");
    api_engine_set_known(&w.e, &known); /* a different set: "all" means something else */
    assert_int_equal(ask_text(&w, API_R_HIGHEST, "exchange1", t0 + 1000, &a), 200);
    assert_int_equal(w.fr.calls, 5);
    free(a);
    api_engine_set_known(&w.e, &known); /* the same set again: still cached */
    assert_int_equal(ask_text(&w, API_R_HIGHEST, "exchange1", t0 + 1000, &a), 200);
    assert_int_equal(w.fr.calls, 5);
    free(a);
    w.fr.fail = w.fp.fail = 1; /* 503: not cached, the next request tries again */
    assert_int_equal(ask_text(&w, API_R_LOWEST, "", t0 + 1000, &a), 503);
    free(a);
    w.fr.fail = w.fp.fail = 0;
    assert_int_equal(ask_text(&w, API_R_LOWEST, "", t0 + 1000, &a), 200);
    free(a);
    assert_int_equal(ask_text(&w, API_R_LATEST, "", t0 + 1000, &a), 200); /* never cached */
    free(a);
    api_cache_destroy(w.e.cache);
    teardown(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_redis_answer),
                                       cmocka_unit_test(test_fallback),
                                       cmocka_unit_test(test_long_period_exact),
                                       cmocka_unit_test(test_errors),
                                       cmocka_unit_test(test_latest),
                                       cmocka_unit_test(test_cached_answers)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
