/* Unit tests of the answer cache (services/api/cache.c): generations, bound, abandon,
 * single flight and concurrent use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "mf/util.h"

static api_cache_result get(api_cache *c, const char *key, int64_t gen, int *status, char **body) {
    size_t len = 0;
    api_cache_result r;
    *body = NULL;
    r = api_cache_get(c, key, gen, status, body, &len);
    if (r == API_CACHE_HIT) assert_int_equal(len, strlen(*body));
    return r;
}

static void fill(api_cache *c, const char *key, int64_t gen, int status, const char *body) {
    api_cache_fill(c, key, gen, status, body, strlen(body));
}

static void test_hit_and_generations(void **st) {
    api_cache *c = api_cache_create(8);
    api_cache_stats s;
    char *b;
    int status = 0;
    (void)st;
    assert_int_equal(get(c, "k", 100, &status, &b), API_CACHE_LEADER);
    fill(c, "k", 100, 200, "{\"a\":1}");
    assert_int_equal(get(c, "k", 100, &status, &b), API_CACHE_HIT);
    assert_int_equal(status, 200);
    assert_string_equal(b, "{\"a\":1}");
    free(b);
    assert_int_equal(get(c, "other", 100, &status, &b), API_CACHE_LEADER);
    fill(c, "other", 100, 404, "{\"error\":\"x\"}");
    /* `to` moves: everything of the old generation is gone */
    assert_int_equal(get(c, "k", 101, &status, &b), API_CACHE_LEADER);
    api_cache_stats_get(c, &s);
    assert_int_equal(s.entries, 1);
    assert_int_equal(s.gen, 101);
    assert_int_equal(s.swaps, 2);
    /* a request still on the old `to` bypasses (neither reads nor writes the table) */
    assert_int_equal(get(c, "other", 100, &status, &b), API_CACHE_BYPASS);
    fill(c, "other", 100, 200, "{}"); /* a late fill of an old generation is dropped */
    fill(c, "k", 101, 200, "{\"a\":2}");
    assert_int_equal(get(c, "k", 101, &status, &b), API_CACHE_HIT);
    assert_string_equal(b, "{\"a\":2}");
    free(b);
    api_cache_stats_get(c, &s);
    assert_int_equal(s.entries, 1);
    assert_int_equal(s.hits, 2);
    assert_int_equal(s.misses, 3);
    api_cache_destroy(c);
}

static void test_bound(void **st) {
    api_cache *c = api_cache_create(4);
    api_cache_stats s;
    char key[16], *b;
    int status;
    (void)st;
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(get(c, key, 7, &status, &b), API_CACHE_LEADER);
        fill(c, key, 7, 200, key);
    }
    assert_int_equal(get(c, "k4", 7, &status, &b), API_CACHE_BYPASS); /* full */
    assert_int_equal(get(c, "k3", 7, &status, &b), API_CACHE_HIT);    /* still served */
    assert_string_equal(b, "k3");
    free(b);
    api_cache_stats_get(c, &s);
    assert_int_equal(s.entries, 4);
    assert_int_equal(get(c, "k4", 8, &status, &b), API_CACHE_LEADER); /* new generation */
    api_cache_abandon(c, "k4", 8);
    api_cache_stats_get(c, &s);
    assert_int_equal(s.entries, 0);
    /* too long a key is never cached */
    char big[API_CACHE_KEY_MAX + 8];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(get(c, big, 8, &status, &b), API_CACHE_BYPASS);
    api_cache_destroy(c);
}

static void test_abandon(void **st) {
    api_cache *c = api_cache_create(8);
    char *b;
    int status;
    (void)st;
    assert_int_equal(get(c, "k", 1, &status, &b), API_CACHE_LEADER);
    api_cache_abandon(c, "k", 1);
    assert_int_equal(get(c, "k", 1, &status, &b), API_CACHE_LEADER); /* tried again */
    fill(c, "k", 1, 200, "ok");
    api_cache_abandon(c, "k", 1); /* no effect on a filled entry */
    assert_int_equal(get(c, "k", 1, &status, &b), API_CACHE_HIT);
    free(b);
    api_cache_destroy(c);
}

/* ---- threads ----------------------------------------------------------------------------- */

typedef struct flight {
    api_cache *c;
    int64_t gen;
    atomic_int leaders, hits, bypasses, computed;
    atomic_int bad;
} flight;

/* Many threads ask for one key at once: one computes (slowly), the others get its answer. */
static void *flight_main(void *arg) {
    flight *f = arg;
    char *b = NULL;
    int status = 0;
    size_t len;
    switch (api_cache_get(f->c, "avg|BTCUSDT|5m", f->gen, &status, &b, &len)) {
    case API_CACHE_LEADER:
        atomic_fetch_add(&f->leaders, 1);
        atomic_fetch_add(&f->computed, 1);
        mf_sleep_ms(100); /* the stores are slow: everyone else arrives meanwhile */
        api_cache_fill(f->c, "avg|BTCUSDT|5m", f->gen, 200, "answer", 6);
        break;
    case API_CACHE_HIT:
        atomic_fetch_add(&f->hits, 1);
        if (status != 200 || strcmp(b, "answer") != 0) atomic_fetch_add(&f->bad, 1);
        free(b);
        break;
    case API_CACHE_BYPASS: atomic_fetch_add(&f->bypasses, 1); break;
    }
    return NULL;
}

static void test_single_flight(void **st) {
    enum { N = 16 };
    pthread_t t[N];
    flight f = {.c = api_cache_create(8), .gen = 5};
    api_cache_stats s;
    (void)st;
    for (int i = 0; i < N; i++) pthread_create(&t[i], NULL, flight_main, &f);
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&f.leaders), 1);
    assert_int_equal(atomic_load(&f.computed), 1);
    assert_int_equal(atomic_load(&f.hits), N - 1);
    assert_int_equal(atomic_load(&f.bad), 0);
    api_cache_stats_get(f.c, &s);
    assert_true(s.waits >= 1); /* at least one thread came while the leader computed */
    api_cache_destroy(f.c);
}

typedef struct waiter {
    api_cache *c;
    api_cache_result r;
} waiter;

static void *waiter_main(void *arg) {
    waiter *w = arg;
    char *b = NULL;
    int status;
    size_t len;
    w->r = api_cache_get(w->c, "k", 1, &status, &b, &len);
    free(b);
    return NULL;
}

/* Waiters of a leader that abandons, or of a generation that ends, compute on their own. */
static void test_waiters_released(void **st) {
    api_cache *c = api_cache_create(8);
    api_cache_stats s;
    waiter w = {.c = c};
    pthread_t t;
    char *b;
    int status;
    (void)st;
    for (int round = 0; round < 2; round++) {
        assert_int_equal(get(c, "k", 1, &status, &b), API_CACHE_LEADER);
        pthread_create(&t, NULL, waiter_main, &w);
        do {
            mf_sleep_ms(5);
            api_cache_stats_get(c, &s);
        } while (s.waits < round + 1);
        if (round == 0)
            api_cache_abandon(c, "k", 1);
        else
            assert_int_equal(get(c, "k", 2, &status, &b), API_CACHE_LEADER); /* swap */
        pthread_join(t, NULL);
        assert_int_equal(w.r, API_CACHE_BYPASS);
    }
    api_cache_destroy(c);
}

typedef struct stress {
    api_cache *c;
    atomic_llong clock; /* generations move forward while threads work */
    atomic_int bad;
    unsigned seed;
} stress;

static void *stress_main(void *arg) {
    stress *x = arg;
    unsigned seed = (unsigned)(uintptr_t)pthread_self();
    char key[32], want[48], *b;
    int status;
    size_t len;
    for (int i = 0; i < 20000; i++) {
        int64_t gen = atomic_load(&x->clock) - (rand_r(&seed) % 3 == 0); /* some lag behind */
        snprintf(key, sizeof(key), "k%u", rand_r(&seed) % 64);
        snprintf(want, sizeof(want), "%s@%lld", key, (long long)gen);
        b = NULL;
        switch (api_cache_get(x->c, key, gen, &status, &b, &len)) {
        case API_CACHE_LEADER:
            if (rand_r(&seed) % 8 == 0)
                api_cache_abandon(x->c, key, gen);
            else
                api_cache_fill(x->c, key, gen, 200, want, strlen(want));
            break;
        case API_CACHE_HIT:
            if (status != 200 || len != strlen(want) || strcmp(b, want) != 0)
                atomic_fetch_add(&x->bad, 1);
            free(b);
            break;
        case API_CACHE_BYPASS: break;
        }
        if (i % 500 == 0) atomic_fetch_add(&x->clock, 1);
    }
    return NULL;
}

/* Four threads, 64 keys, moving generations, abandons: every hit is the answer of its own
 * key and generation; nothing leaks (ASan), the bound holds. */
static void test_concurrent(void **st) {
    enum { N = 4 };
    pthread_t t[N];
    stress x = {.c = api_cache_create(32), .clock = 10};
    api_cache_stats s;
    (void)st;
    for (int i = 0; i < N; i++) pthread_create(&t[i], NULL, stress_main, &x);
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&x.bad), 0);
    api_cache_stats_get(x.c, &s);
    assert_true(s.entries <= 32);
    assert_true(s.hits > 0);
    assert_true(s.swaps > 1);
    api_cache_destroy(x.c);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_hit_and_generations),
                                       cmocka_unit_test(test_bound),
                                       cmocka_unit_test(test_abandon),
                                       cmocka_unit_test(test_single_flight),
                                       cmocka_unit_test(test_waiters_released),
                                       cmocka_unit_test(test_concurrent)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
