/* Unit tests of rollup.c: merge laws (associative, commutative, identity) and agreement
 * with a single pass over the ticks, property style over seeded random tick sets with ties;
 * windows; JSON round trip. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mf/rollup.h"

static uint64_t rng;

static uint64_t next_u64(void) {
    uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Ticks inside one 1 s bucket with many ties in price and time, some without id or qty. */
static void random_ticks(mf_tick *t, int n) {
    for (int i = 0; i < n; i++) {
        memset(&t[i], 0, sizeof(t[i]));
        snprintf(t[i].exchange, sizeof(t[i].exchange), "exchange1");
        snprintf(t[i].symbol, sizeof(t[i].symbol), "BTCUSDT");
        t[i].ts = 1795276404000LL + (int64_t)(next_u64() % 40);
        t[i].price = 100000.0 + (double)(next_u64() % 20) * 0.37 + 1e-7 * (double)(i % 3);
        if (next_u64() % 3) {
            t[i].has_id = 1;
            t[i].id = (int64_t)(next_u64() % 1000);
        }
        if (next_u64() % 2) {
            t[i].has_qty = 1;
            t[i].qty = ldexp((double)(next_u64() >> 11), -53) * 3.0;
        }
    }
}

static void rollup_of(mf_rollup *r, const mf_tick *t, int n) {
    mf_rollup_init(r, "exchange1", "BTCUSDT", MF_WIN_1S, 1795276404000LL);
    for (int i = 0; i < n; i++) mf_rollup_add(r, &t[i]);
}

/* The oracle: statistics computed directly, without the merge code. */
static void check_against_oracle(const mf_rollup *r, const mf_tick *t, int n) {
    int imin = 0, imax = 0, iopen = 0, iclose = 0;
    mf_xsum sum, vol, notional;
    mf_xsum_init(&sum);
    mf_xsum_init(&vol);
    mf_xsum_init(&notional);
    for (int i = 0; i < n; i++) {
        int64_t id = t[i].has_id ? t[i].id : -1;
        int64_t oid = t[iopen].has_id ? t[iopen].id : -1;
        int64_t cid = t[iclose].has_id ? t[iclose].id : -1;
        if (t[i].price < t[imin].price || (t[i].price == t[imin].price && t[i].ts < t[imin].ts))
            imin = i;
        if (t[i].price > t[imax].price || (t[i].price == t[imax].price && t[i].ts < t[imax].ts))
            imax = i;
        if (mf_tick_order(t[i].ts, id, t[i].price, t[iopen].ts, oid, t[iopen].price) < 0) iopen = i;
        if (mf_tick_order(t[i].ts, id, t[i].price, t[iclose].ts, cid, t[iclose].price) > 0)
            iclose = i;
        mf_xsum_add(&sum, t[i].price);
        if (t[i].has_qty) {
            mf_xsum_add(&vol, t[i].qty);
            mf_xsum_add(&notional, t[i].price * t[i].qty);
        }
    }
    assert_int_equal(r->st.count, n);
    assert_true(r->st.min == t[imin].price && r->st.min_ts == t[imin].ts);
    assert_true(r->st.max == t[imax].price && r->st.max_ts == t[imax].ts);
    assert_true(r->st.open == t[iopen].price && r->st.open_ts == t[iopen].ts);
    assert_true(r->st.close == t[iclose].price && r->st.close_ts == t[iclose].ts);
    assert_true(mf_xsum_equal(&r->st.sum, &sum));
    assert_true(mf_xsum_equal(&r->st.volume, &vol));
    assert_true(mf_xsum_equal(&r->st.notional, &notional));
    assert_true(mf_stats_average(&r->st) == mf_xsum_value(&sum) / n);
}

static void test_single_pass_matches_oracle(void **state) {
    mf_tick t[300];
    mf_rollup r;
    (void)state;
    rng = 1;
    for (int round = 0; round < 200; round++) {
        int n = 1 + (int)(next_u64() % 300);
        random_ticks(t, n);
        rollup_of(&r, t, n);
        check_against_oracle(&r, t, n);
    }
}

static void test_merge_laws(void **state) {
    mf_tick t[403];
    (void)state;
    rng = 2;
    for (int round = 0; round < 300; round++) {
        int n = 3 + (int)(next_u64() % 400);
        int i1 = (int)(next_u64() % (uint64_t)n), i2 = (int)(next_u64() % (uint64_t)n);
        mf_rollup a, b, c, ab, ab_c, bc, a_bc, ba, empty, whole, tmp;
        if (i1 > i2) {
            int x = i1;
            i1 = i2;
            i2 = x;
        }
        random_ticks(t, n);
        rollup_of(&a, t, i1);
        rollup_of(&b, t + i1, i2 - i1);
        rollup_of(&c, t + i2, n - i2);
        rollup_of(&whole, t, n);
        rollup_of(&empty, t, 0);
        /* associative */
        ab = a;
        assert_int_equal(mf_rollup_merge(&ab, &b), MF_OK);
        ab_c = ab;
        mf_rollup_merge(&ab_c, &c);
        bc = b;
        mf_rollup_merge(&bc, &c);
        a_bc = a;
        mf_rollup_merge(&a_bc, &bc);
        assert_true(mf_rollup_same(&ab_c, &a_bc));
        /* commutative */
        ba = b;
        mf_rollup_merge(&ba, &a);
        assert_true(mf_rollup_same(&ab, &ba));
        /* identity, both sides */
        tmp = a;
        mf_rollup_merge(&tmp, &empty);
        assert_true(mf_rollup_same(&tmp, &a));
        tmp = empty;
        mf_rollup_merge(&tmp, &a);
        assert_true(mf_rollup_same(&tmp, &a));
        /* and the merge equals one pass over all ticks */
        assert_true(mf_rollup_same(&ab_c, &whole));
        check_against_oracle(&ab_c, t, n);
    }
}

static void test_shuffled_partials(void **state) {
    enum { N = 1000, P = 7 };
    mf_tick t[N];
    mf_rollup parts[P], merged, whole;
    (void)state;
    rng = 3;
    random_ticks(t, N);
    rollup_of(&whole, t, N);
    for (int p = 0; p < P; p++) rollup_of(&parts[p], t, 0);
    for (int i = N - 1; i >= 0; i--) mf_rollup_add(&parts[next_u64() % P], &t[i]);
    rollup_of(&merged, t, 0);
    for (int p = P - 1; p >= 0; p--) mf_rollup_merge(&merged, &parts[(p * 3) % P]);
    assert_true(mf_rollup_same(&merged, &whole));
}

static void test_key_mismatch(void **state) {
    mf_tick t[2];
    mf_rollup a, b;
    (void)state;
    rng = 4;
    random_ticks(t, 2);
    rollup_of(&a, t, 1);
    rollup_of(&b, t + 1, 1);
    b.start += 1000;
    assert_int_equal(mf_rollup_merge(&a, &b), MF_ERR_INVALID_ARG);
    assert_int_equal(a.st.count, 1);
}

static void test_windows(void **state) {
    mf_window w;
    (void)state;
    assert_int_equal(mf_window_start(1795276404307LL, MF_WIN_1S), 1795276404000LL);
    assert_int_equal(mf_window_start(1795276404307LL, MF_WIN_1M), 1795276380000LL);
    assert_int_equal(mf_window_start(60000, MF_WIN_1M), 60000);
    assert_int_equal(mf_window_start(-1, MF_WIN_1S), -1000);
    assert_int_equal(mf_window_ms(MF_WIN_1M), 60000);
    assert_int_equal(mf_window_parse("1m", &w), 0);
    assert_int_equal(w, MF_WIN_1M);
    assert_int_equal(mf_window_parse("5m", &w), -1);
}

static void test_json_round_trip(void **state) {
    mf_tick t[50];
    mf_rollup r, back;
    size_t len;
    char *s;
    (void)state;
    rng = 5;
    random_ticks(t, 50);
    rollup_of(&r, t, 50);
    snprintf(r.producer, sizeof(r.producer), "agg-1");
    r.seq = 12345;
    s = mf_rollup_to_json(&r, &len);
    assert_non_null(s);
    assert_int_equal(mf_rollup_from_json(s, len, &back), MF_OK);
    assert_true(mf_rollup_same(&r, &back));
    assert_string_equal(back.producer, "agg-1");
    assert_int_equal(back.seq, 12345);
    assert_non_null(strstr(s, "\"window\":\"1s\""));
    assert_non_null(strstr(s, "\"sum\":"));
    free(s);
    /* The plain form of docs/design.md section 4 (no *_x fields) is accepted. */
    s = "{\"exchange\":\"exchange1\",\"symbol\":\"BTCUSDT\",\"window\":\"1m\",\"start\":60000,"
        "\"count\":2,\"sum\":3.5,\"min\":1.5,\"min_ts\":60001,\"max\":2,\"max_ts\":60002,"
        "\"open\":1.5,\"open_ts\":60001,\"close\":2,\"close_ts\":60002,\"volume\":0,"
        "\"notional\":0,\"producer\":\"p\",\"seq\":1}";
    assert_int_equal(mf_rollup_from_json(s, strlen(s), &back), MF_OK);
    assert_true(mf_stats_average(&back.st) == 1.75);
    assert_true(isnan(mf_stats_vwap(&back.st)));
    /* Garbage and missing fields are refused. */
    assert_int_equal(mf_rollup_from_json("{", 1, &back), MF_ERR_PARSE);
    s = "{\"exchange\":\"exchange1\",\"symbol\":\"BTCUSDT\",\"window\":\"1m\",\"start\":60000,"
        "\"count\":2}";
    assert_int_equal(mf_rollup_from_json(s, strlen(s), &back), MF_ERR_PARSE);
    s = "{\"exchange\":\"ex.1\",\"symbol\":\"BTCUSDT\",\"window\":\"1m\",\"start\":0,\"count\":0}";
    assert_int_equal(mf_rollup_from_json(s, strlen(s), &back), MF_ERR_PARSE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_pass_matches_oracle),
        cmocka_unit_test(test_merge_laws),
        cmocka_unit_test(test_shuffled_partials),
        cmocka_unit_test(test_key_mismatch),
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_json_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
