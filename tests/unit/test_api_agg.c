/* Unit tests of exact cross-exchange merging (services/api/agg.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "agg.h"

static void add1(api_agg *a, const char *ex, double p, int64_t ts) {
    mf_xsum s;
    mf_xsum_init(&s);
    mf_xsum_add(&s, p);
    api_agg_add(a, ex, 1, &s, p, ts, p, ts);
}

static void test_exact_and_order_free(void **st) {
    api_agg a, b, c;
    (void)st;
    api_agg_init(&a);
    api_agg_init(&b);
    add1(&a, "exchange1", 1e16, 1);
    add1(&a, "exchange1", 1.0, 2);
    add1(&b, "exchange2", -1e16, 3);
    add1(&b, "exchange2", 1.0, 4);
    c = b;
    api_agg_merge(&c, &a);
    api_agg_merge(&a, &b);
    assert_int_equal(a.st.count, 4);
    assert_true(mf_xsum_value(&a.st.sum) == 2.0); /* naive double sum gives 0 or 1 */
    assert_true(mf_xsum_equal(&a.st.sum, &c.st.sum));
    assert_true(api_agg_average(&a) == 0.5);
    assert_true(a.st.max == 1e16);
    assert_true(a.st.min == -1e16);
}

static void test_ties(void **st) {
    api_agg a;
    (void)st;
    api_agg_init(&a);
    add1(&a, "exchange2", 5.0, 10);
    add1(&a, "exchange1", 5.0, 10);
    add1(&a, "exchange3", 5.0, 9);
    assert_string_equal(a.max_exchange, "exchange3"); /* earlier ts wins */
    assert_int_equal(a.st.max_ts, 9);
    api_agg_init(&a);
    add1(&a, "exchange2", 5.0, 10);
    add1(&a, "exchange1", 5.0, 10);
    assert_string_equal(a.min_exchange, "exchange1"); /* then the smaller name */
    assert_string_equal(a.max_exchange, "exchange1");
}

static void test_xsum_parse(void **st) {
    mf_xsum s;
    (void)st;
    assert_int_equal(api_xsum_parse("", &s), 0);
    assert_true(mf_xsum_value(&s) == 0.0);
    assert_int_equal(api_xsum_parse("1.0000000000000001e-17,100143.27730216153", &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(api_xsum_parse("1,x", &s), -1);
    assert_int_equal(api_xsum_parse("1;2", &s), -1);
    assert_int_equal(api_xsum_parse("inf", &s), -1);
}

static void test_final_sum(void **st) {
    api_agg a, pg;
    (void)st;
    api_agg_init(&a);
    api_agg_init(&pg);
    add1(&a, "exchange1", 3.0, 5);
    pg.st.count = 1;
    pg.sum_final = 1;
    pg.sum_value = 4.0; /* database total includes the Redis part */
    pg.st.min = pg.st.max = 1.0;
    strcpy(pg.min_exchange, "exchange2");
    api_agg_merge(&pg, &a);
    assert_int_equal(pg.st.count, 2);
    assert_true(api_agg_average(&pg) == 2.0);
    assert_true(pg.st.max == 3.0);
}

/* Whole statistics merge too: rollups of two exchanges give, apart from the labels, what one
 * pass over all their ticks gives (open, close, volume and notional included). */
static void test_rollups_carry_everything(void **st) {
    static const double price[] = {5.0, 7.5, 5.0, 2.25, 7.5, 3.0};
    mf_rollup r[2];
    mf_stats whole;
    api_agg a;
    (void)st;
    mf_rollup_init(&r[0], "exchange2", "BTCUSDT", MF_WIN_1M, 60000);
    mf_rollup_init(&r[1], "exchange1", "BTCUSDT", MF_WIN_1M, 60000);
    mf_stats_init(&whole);
    for (int i = 0; i < 6; i++) {
        mf_tick t = {.price = price[i], .ts = 60000 + (i % 3) * 10, .has_qty = i != 4, .qty = i};
        mf_rollup_add(&r[i % 2], &t);
        mf_stats_add(&whole, &t);
    }
    api_agg_init(&a);
    api_agg_add_rollup(&a, &r[0]);
    api_agg_add_rollup(&a, &r[1]);
    assert_true(mf_stats_equal(&a.st, &whole));
    assert_true(a.st.open == 2.25 && a.st.close == 5.0); /* ts ties: by price */
    assert_true(mf_xsum_value(&a.st.volume) == 11.0);
    assert_true(mf_xsum_value(&a.st.notional) == 7.5 + 10.0 + 6.75 + 15.0);
    assert_string_equal(a.min_exchange, "exchange1"); /* 2.25 at 60000 */
    assert_string_equal(a.max_exchange, "exchange1"); /* 7.5 at 60010 twice: the smaller name */
    assert_true(api_agg_max(&a).price == 7.5 && api_agg_max(&a).ts == 60010);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_and_order_free), cmocka_unit_test(test_ties),
        cmocka_unit_test(test_xsum_parse), cmocka_unit_test(test_final_sum),
        cmocka_unit_test(test_rollups_carry_everything)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
