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

/* ---- the compact form, against the full expansion ------------------------------------ */

/* 1 when the compact sum holds exactly the parts of the full one, bit for bit. */
static int same_parts(const mf_xsum_small *c, const mf_xsum *full) {
    mf_xsum got;
    mf_xsum_small_get(c, &got);
    if (got.n != full->n) return 0;
    return memcmp(got.p, full->p, sizeof(double) * (size_t)full->n) == 0;
}

/* Inputs that make expansions long, cancel, tie at half an ulp, or are not finite. */
static double adversarial_value(void) {
    static const double v[] = {1e15,   1.0,     1e-15,    3e-31,     7e-47, 1e-60,  2.5,
                               -1e15,  -1.0,    0.0,      -0.0,      1e300, -1e300, 4.9e-324,
                               0x1p53, 0x1p-54, -0x1p-54, 0x1p-1074, 0.1,   1e-300, INFINITY};
    double x = v[next_u64() % (sizeof(v) / sizeof(v[0]))];
    return next_u64() % 3 == 0 ? x * ldexp(1.0, (int)(next_u64() % 200) - 100) : x;
}

/* Random adds, merges (inline and spilled on either side, and into itself), copies and
 * cleanups, applied to a compact and a full sum side by side: the parts stay identical. */
static void test_small_matches_full(void **state) {
    enum { K = 4 };
    (void)state;
    for (int round = 0; round < 400; round++) {
        mf_xsum_small c[K];
        mf_xsum f[K];
        int adversarial = round % 2;
        for (int k = 0; k < K; k++) {
            mf_xsum_small_init(&c[k]);
            mf_xsum_init(&f[k]);
        }
        for (int step = 0; step < 200; step++) {
            int k = (int)(next_u64() % K), j = (int)(next_u64() % K);
            uint64_t op = next_u64() % 20;
            if (op < 15) {
                double x = adversarial ? adversarial_value() : random_value();
                mf_xsum_small_add(&c[k], x);
                mf_xsum_add(&f[k], x);
            } else if (op < 18) {
                mf_xsum_small_merge(&c[k], &c[j]);
                mf_xsum_merge(&f[k], &f[j]);
            } else if (op < 19 && k != j) {
                mf_xsum_small_cleanup(&c[k]);
                mf_xsum_small_copy(&c[k], &c[j]);
                f[k] = f[j];
            } else {
                mf_xsum_small_cleanup(&c[k]);
                mf_xsum_init(&f[k]);
            }
            assert_true(same_parts(&c[k], &f[k]));
            assert_true(same_parts(&c[j], &f[j]));
        }
        for (int k = 0; k < K; k++) mf_xsum_small_cleanup(&c[k]);
    }
}

/* The spill happens exactly when a fourth part is needed, and is undone by cleanup only. */
static void test_small_spill(void **state) {
    static const double parts[] = {1.0, 0x1p-60, 0x1p-120, 0x1p-180}; /* no two fit one double */
    mf_xsum_small c, d;
    mf_xsum full;
    (void)state;
    mf_xsum_small_init(&c);
    mf_xsum_init(&full);
    for (int i = 0; i < 4; i++) {
        mf_xsum_small_add(&c, parts[i]);
        mf_xsum_add(&full, parts[i]);
        assert_int_equal(full.n, i + 1);
        assert_int_equal(c.n, i < MF_XSUM_SMALL_INLINE ? i + 1 : -1);
    }
    mf_xsum_small_init(&d);
    mf_xsum_small_copy(&d, &c); /* its own spill: freeing c leaves d intact */
    assert_true(d.n == -1 && d.u.big != c.u.big);
    mf_xsum_small_cleanup(&c);
    assert_int_equal(c.n, 0);
    assert_true(same_parts(&d, &full));
    assert_true(mf_xsum_value(&full) == 1.0);
    mf_xsum_small_cleanup(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fsum_reference_cases),
        cmocka_unit_test(test_order_and_grouping_independent),
        cmocka_unit_test(test_equal_and_self_merge),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_decimal),
        cmocka_unit_test(test_small_matches_full),
        cmocka_unit_test(test_small_spill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
