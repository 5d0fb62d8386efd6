/* Unit tests of the number formatting on the generator's hot path: mf_fmt_double (its exact
 * integer fast path) is byte-identical to the definition, the shortest of %.15g/%.16g/%.17g
 * that strtod reads back, computed here independently with snprintf + strtod. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gen_fmt.h"
#include "gen_stream.h"
#include "mf/tick.h"

static int ref_fmt_double(char *buf, size_t size, double x) {
    for (int prec = 15; prec <= 17; prec++) {
        int n = snprintf(buf, size, "%.*g", prec, x);
        if (prec == 17 || strtod(buf, NULL) == x) return n;
    }
    return -1;
}

static void check_same(double x) {
    char a[64], b[64];
    int na = mf_fmt_double(a, sizeof(a), x);
    int nb = ref_fmt_double(b, sizeof(b), x);
    if (na != nb || strcmp(a, b) != 0) {
        print_error("x=%a fast='%s' ref='%s'\n", x, a, b);
        fail();
    }
    assert_true(strtod(a, NULL) == x);
}

static void test_fixed_values(void **state) {
    static const double v[] = {100000,
                               0.3,
                               3.9,
                               200,
                               3050,
                               99815.54088375505,
                               0.2987076250137248,
                               3.888895473752344,
                               1e-3,
                               0.001000000001,
                               9.999999999999999e13,
                               1e14,
                               123456789012.345,
                               0.1,
                               0.2,
                               0.7,
                               1.5,
                               2.5,
                               1e-7,
                               1e20,
                               5e-324,
                               1.7976931348623157e308,
                               0.5,
                               1,
                               2,
                               4,
                               1024,
                               9.5,
                               0.0125,
                               99999.99999999999,
                               999.9999999999999};
    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        check_same(v[i]);
        check_same(nextafter(v[i], 0));
        check_same(nextafter(v[i], INFINITY));
    }
}

static void test_random_prices(void **state) {
    gen_rng r;
    (void)state;
    gen_rng_seed(&r, 42);
    for (int i = 0; i < 1000000; i++) {
        /* log-uniform over [1e-4, 1e15) plus a few bit-pattern neighbours */
        double x = pow(10.0, -4.0 + 19.0 * gen_rng_uniform(&r));
        check_same(x);
        if (i % 8 == 0) check_same(nextafter(x, 0));
    }
}

static void test_short_decimals(void **state) {
    gen_rng r;
    (void)state;
    gen_rng_seed(&r, 7);
    for (int i = 0; i < 200000; i++) {
        /* decimals with few digits: the 15-digit path and exact ties */
        double x = (double)(gen_rng_next(&r) % 100000000) / pow(10.0, (double)(i % 9));
        if (x > 0) check_same(x);
    }
}

static void test_int_formats(void **state) {
    char buf[40];
    int n;
    (void)state;
    n = gen_fmt_u64(buf, 0);
    assert_int_equal(n, 1);
    assert_memory_equal(buf, "0", 1);
    n = gen_fmt_u64(buf, 1795276404307ULL);
    assert_int_equal(n, 13);
    assert_memory_equal(buf, "1795276404307", 13);
    n = gen_fmt_u64(buf, UINT64_MAX);
    assert_memory_equal(buf, "18446744073709551615", 20);
    for (uint64_t k = 1; k < 100000000000ULL; k = k * 7 + 3) {
        char ref[40];
        snprintf(ref, sizeof(ref), "%.8f", (double)k / 1e8);
        n = gen_fmt_fixed8(buf, k);
        buf[n] = '\0';
        assert_string_equal(buf, ref);
        assert_true(strtod(buf, NULL) == (double)k / 1e8);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_values),
        cmocka_unit_test(test_random_prices),
        cmocka_unit_test(test_short_decimals),
        cmocka_unit_test(test_int_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
