/* Unit tests of xsum.c: exact sums equal math.fsum (Python's reference cases), whatever
 * the order and grouping; exact decimal output. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mf/xsum.h"

static double sum_of(const double *v, int n) {
    mf_xsum s;
    mf_xsum_init(&s);
    for (int i = 0; i < n; i++) mf_xsum_add(&s, v[i]);
    return mf_xsum_value(&s);
}

static void test_fsum_reference_cases(void **state) {
    /* Expected values are what CPython's math.fsum returns for the same inputs. */
    double big = ldexp(1.0, 53);
    double a[] = {1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50};
    double b[] = {big, -0.5, -ldexp(1.0, -54)};
    double c[] = {big, 1.0, ldexp(1.0, -100)};
    double d[] = {big + 10.0, 1.0, ldexp(1.0, -100)};
    double e[] = {big - 4.0, 0.5, ldexp(1.0, -54)};
    double tenth[10];
    double harmonic[1000];
    (void)state;
    assert_true(sum_of(a, 7) == 1e-100);
    assert_true(sum_of(b, 3) == big - 1.0);
    assert_true(sum_of(c, 3) == big + 2.0);
    assert_true(sum_of(d, 3) == big + 12.0);
    assert_true(sum_of(e, 3) == big - 3.0);
    for (int i = 0; i < 10; i++) tenth[i] = 0.1;
    assert_true(sum_of(tenth, 10) == 1.0); /* naive summation gives 0.9999999999999999 */
    for (int i = 0; i < 1000; i++) harmonic[i] = 1.0 / (i + 1);
    assert_true(sum_of(harmonic, 1000) == strtod("0x1.df11f45f4e61ap+2", NULL));
    assert_true(sum_of(NULL, 0) == 0.0);
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t next_u64(void) {
    uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double random_value(void) {
    double mag = ldexp((double)(next_u64() >> 11), -53); /* [0, 1) */
    int exp = (int)(next_u64() % 60) - 30;
    return (next_u64() & 1 ? 1 : -1) * ldexp(mag, exp);
}

static void test_order_and_grouping_independent(void **state) {
    enum { N = 2000 };
    double v[N];
    (void)state;
    for (int round = 0; round < 50; round++) {
        mf_xsum whole, parts[4], merged;
        double want;
        for (int i = 0; i < N; i++) v[i] = random_value();
        mf_xsum_init(&whole);
        for (int i = 0; i < N; i++) mf_xsum_add(&whole, v[i]);
        want = mf_xsum_value(&whole);
        /* Shuffle, split into 4 uneven groups, merge the groups in another order. */
        for (int i = N - 1; i > 0; i--) {
            int j = (int)(next_u64() % (uint64_t)(i + 1));
            double t = v[i];
            v[i] = v[j];
            v[j] = t;
        }
        for (int g = 0; g < 4; g++) mf_xsum_init(&parts[g]);
        for (int i = 0; i < N; i++) mf_xsum_add(&parts[(int)(next_u64() % 4)], v[i]);
        mf_xsum_init(&merged);
        mf_xsum_merge(&merged, &parts[2]);
        mf_xsum_merge(&merged, &parts[0]);
        mf_xsum_merge(&parts[3], &parts[1]);
        mf_xsum_merge(&merged, &parts[3]);
        assert_true(mf_xsum_value(&merged) == want);
        assert_true(mf_xsum_equal(&merged, &whole));
        assert_true(merged.n <= MF_XSUM_MAX);
    }
}

static void test_equal_and_self_merge(void **state) {
    mf_xsum a, b;
    (void)state;
    mf_xsum_init(&a);
    mf_xsum_init(&b);
    mf_xsum_add(&a, 0.1);
    mf_xsum_add(&a, 0.2);
    mf_xsum_add(&b, 0.30000000000000004);
    assert_false(mf_xsum_equal(&a, &b)); /* 0.1+0.2 exactly is not the double 0.3000..04 */
    mf_xsum_merge(&a, &a);               /* doubling in place is well defined */
    mf_xsum_init(&b);
    for (int i = 0; i < 2; i++) {
        mf_xsum_add(&b, 0.2);
        mf_xsum_add(&b, 0.1);
    }
    assert_true(mf_xsum_equal(&a, &b));
}

static void test_json_round_trip(void **state) {
    mf_xsum a, b;
    json_t *j;
    char *text;
    json_error_t err;
    (void)state;
    mf_xsum_init(&a);
    for (int i = 0; i < 1000; i++) mf_xsum_add(&a, random_value());
    j = mf_xsum_to_json(&a);
    text = json_dumps(j, JSON_REAL_PRECISION(17));
    json_decref(j);
    j = json_loads(text, 0, &err);
    assert_int_equal(mf_xsum_from_json(j, &b), MF_OK);
    assert_true(mf_xsum_equal(&a, &b));
    json_decref(j);
    free(text);
    j = json_string("x");
    assert_int_equal(mf_xsum_from_json(j, &b), MF_ERR_PARSE);
    json_decref(j);
    j = json_real(2.5);
    assert_int_equal(mf_xsum_from_json(j, &b), MF_OK);
    assert_true(mf_xsum_value(&b) == 2.5);
    json_decref(j);
}

static void test_decimal(void **state) {
    mf_xsum s;
    char buf[2048];
    (void)state;
    mf_xsum_init(&s);
    assert_true(mf_xsum_to_decimal(&s, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "0");
    mf_xsum_add(&s, 0.1);
    mf_xsum_to_decimal(&s, buf, sizeof(buf));
    assert_string_equal(buf, "0.1000000000000000055511151231257827021181583404541015625");
    mf_xsum_init(&s);
    mf_xsum_add(&s, 1e20);
    mf_xsum_add(&s, 1.5);
    mf_xsum_add(&s, -0.25);
    mf_xsum_to_decimal(&s, buf, sizeof(buf));
    assert_string_equal(buf, "100000000000000000001.25");
    mf_xsum_init(&s);
    mf_xsum_add(&s, -3.0);
    mf_xsum_add(&s, 0.5);
    mf_xsum_to_decimal(&s, buf, sizeof(buf));
    assert_string_equal(buf, "-2.5");
    assert_int_equal(mf_xsum_to_decimal(&s, buf, 3), -1);
    /* The decimal parses back (strtod rounds correctly) to the rounded value. */
    mf_xsum_init(&s);
    for (int i = 0; i < 500; i++) mf_xsum_add(&s, fabs(random_value()) * 1e5);
    mf_xsum_to_decimal(&s, buf, sizeof(buf));
    assert_true(strtod(buf, NULL) == mf_xsum_value(&s));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fsum_reference_cases),
        cmocka_unit_test(test_order_and_grouping_independent),
        cmocka_unit_test(test_equal_and_self_merge),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_decimal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
