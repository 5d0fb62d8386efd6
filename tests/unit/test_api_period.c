/* Unit tests of the period grammar (services/api/period.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "period.h"

static int64_t ok(const char *s) {
    char err[256];
    int64_t ms = -1;
    assert_int_equal(api_period_parse(s, &ms, err, sizeof(err)), 0);
    return ms;
}

static void bad(const char *s, const char *why) {
    char err[256] = "";
    int64_t ms = -1;
    assert_int_equal(api_period_parse(s, &ms, err, sizeof(err)), -1);
    assert_non_null(strstr(err, why));
    assert_non_null(strstr(err, "expected a positive integer"));
}

static void test_valid(void **st) {
    (void)st;
    assert_int_equal(ok("1s"), 1000);
    assert_int_equal(ok("30s"), 30000);
    assert_int_equal(ok("5m"), 300000);
    assert_int_equal(ok("24h"), 86400000);
    assert_int_equal(ok("365d"), 365LL * 86400000);
    assert_int_equal(ok("05m"), 300000);
    assert_int_equal(ok(NULL), 60000); /* default 1m */
}

static void test_invalid(void **st) {
    (void)st;
    bad("0s", "must be positive");
    bad("-1m", "not a positive integer");
    bad("5x", "no valid unit");
    bad("", "empty");
    bad("10000000d", "absurdly large");
    bad("366d", "absurdly large");
    bad("99999999999999999999999999s", "absurdly large");
    bad("s", "no valid unit");
    bad("1.5m", "not a positive integer");
    bad(" 5m", "not a positive integer");
    bad("+5m", "not a positive integer");
    bad("5M", "no valid unit");
    bad("5", "no valid unit");
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_valid),
                                       cmocka_unit_test(test_invalid)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
