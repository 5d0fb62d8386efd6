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
    assert_int_equal(a.count, 4);
    assert_true(mf_xsum_value(&a.sum) == 2.0); /* naive double sum gives 0 or 1 */
    assert_true(mf_xsum_equal(&a.sum, &c.sum));
    assert_true(api_agg_average(&a) == 0.5);
    assert_true(a.max.price == 1e16);
    assert_true(a.min.price == -1e16);
}

static void test_ties(void **st) {
    api_agg a;
    (void)st;
    api_agg_init(&a);
    add1(&a, "exchange2", 5.0, 10);
    add1(&a, "exchange1", 5.0, 10);
    add1(&a, "exchange3", 5.0, 9);
    assert_string_equal(a.max.exchange, "exchange3"); /* earlier ts wins */
    assert_int_equal(a.max.ts, 9);
    api_agg_init(&a);
    add1(&a, "exchange2", 5.0, 10);
    add1(&a, "exchange1", 5.0, 10);
    assert_string_equal(a.min.exchange, "exchange1"); /* then the smaller name */
    assert_string_equal(a.max.exchange, "exchange1");
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
    pg.count = 1;
    pg.sum_final = 1;
    pg.sum_value = 4.0; /* database total includes the Redis part */
    pg.min.price = pg.max.price = 1.0;
    strcpy(pg.min.exchange, "exchange2");
    api_agg_merge(&pg, &a);
    assert_int_equal(pg.count, 2);
    assert_true(api_agg_average(&pg) == 2.0);
    assert_true(pg.max.price == 3.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_and_order_free), cmocka_unit_test(test_ties),
        cmocka_unit_test(test_xsum_parse), cmocka_unit_test(test_final_sum)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
