/* Unit tests of the query planner (services/api/plan.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "plan.h"

#define NOW 1742457126123LL /* ...:06.123 */

static api_plan_in in_of(int64_t period, int redis, int pg) {
    api_plan_in in = {.now_ms = NOW,
                      .period_ms = period,
                      .settle_ms = 2000,
                      .retention_ms = 600000,
                      .redis_up = redis,
                      .pg_up = pg};
    return in;
}

static void test_short_redis(void **st) {
    api_plan p;
    char err[256];
    api_plan_in in = in_of(5000, 1, 1);
    (void)st;
    assert_int_equal(api_plan_make(&in, &p, err, sizeof(err)), 0);
    assert_int_equal(p.to, 1742457124000LL); /* now - 2 s, whole second */
    assert_int_equal(p.from, p.to - 5000);
    assert_int_equal(p.redis_from, p.from);
    assert_int_equal(p.redis_to, p.to);
    assert_int_equal(p.pg_from, p.pg_to);
    assert_string_equal(p.source, "redis");
}

static void test_long_split(void **st) {
    api_plan p;
    char err[256];
    api_plan_in in = in_of(3600000, 1, 1);
    (void)st;
    assert_int_equal(api_plan_make(&in, &p, err, sizeof(err)), 0);
    assert_int_equal(p.to, 1742457124000LL);
    assert_int_equal(p.pg_to % 60000, 0);
    assert_int_equal(p.pg_from % 60000, 0);
    assert_int_equal(p.pg_to, p.redis_from);
    assert_int_equal(p.redis_to, p.to);
    assert_true(p.to - p.redis_from < 60000);
    assert_int_equal(p.from, p.pg_from);
    assert_true(p.from <= p.to - 3600000);
    assert_string_equal(p.source, "redis+postgres");
}

/* Retention 60 s: when the newest minute began more than retention - margin ago, Redis may
 * have trimmed its first buckets: PostgreSQL alone answers up to the last whole minute. */
static void test_short_retention(void **st) {
    api_plan p;
    char err[256];
    api_plan_in in = in_of(300000, 1, 1);
    (void)st;
    in.retention_ms = 60000;
    in.now_ms = 1742457120000LL + 45000; /* to = m + 43 s: m >= now - 50 s, still fine */
    assert_int_equal(api_plan_make(&in, &p, err, sizeof(err)), 0);
    assert_string_equal(p.source, "redis+postgres");
    assert_int_equal(p.redis_from, 1742457120000LL);
    in.now_ms = 1742457120000LL + 51000; /* to = m + 49 s: m < now - 50 s */
    assert_int_equal(api_plan_make(&in, &p, err, sizeof(err)), 0);
    assert_string_equal(p.source, "postgres");
    assert_int_equal(p.to, 1742457120000LL);
    assert_int_equal(p.redis_from, p.redis_to);
    assert_int_equal(p.from, p.to - 300000);
}

static void test_redis_down(void **st) {
    api_plan p;
    char err[256];
    api_plan_in in = in_of(5000, 0, 1);
    (void)st;
    assert_int_equal(api_plan_make(&in, &p, err, sizeof(err)), 0);
    assert_string_equal(p.source, "postgres");
    assert_int_equal(p.to % 60000, 0);
    assert_int_equal(p.to - p.from, 60000);
    assert_int_equal(p.redis_from, p.redis_to);
    in = in_of(3600000, 0, 1);
    assert_int_equal(api_plan_make(&in, &p, err, sizeof(err)), 0);
    assert_int_equal(p.to - p.from, 3600000);
}

static void test_unanswerable(void **st) {
    api_plan p;
    char err[256];
    api_plan_in in = in_of(5000, 0, 0);
    (void)st;
    assert_int_equal(api_plan_make(&in, &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "neither"));
    in = in_of(3600000, 1, 0);
    assert_int_equal(api_plan_make(&in, &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "PostgreSQL"));
    in = in_of(5000, 1, 0); /* fits the cache: Redis alone */
    assert_int_equal(api_plan_make(&in, &p, err, sizeof(err)), 0);
    assert_string_equal(p.source, "redis");
}

static void test_floor(void **st) {
    (void)st;
    assert_int_equal(api_floor_to(-1, 1000), -1000);
    assert_int_equal(api_floor_to(1999, 1000), 1000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_redis),     cmocka_unit_test(test_long_split),
        cmocka_unit_test(test_short_retention), cmocka_unit_test(test_redis_down),
        cmocka_unit_test(test_unanswerable),    cmocka_unit_test(test_floor)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
