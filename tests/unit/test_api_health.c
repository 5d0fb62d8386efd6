/* Unit tests of the status tracker and the /health verdict (services/api/health.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "health.h"

static void test_tracker(void **st) {
    api_health *h = api_health_create();
    const char *a = "{\"service\":\"collector\",\"instance\":\"c1\",\"state\":\"running\","
                    "\"interval_ms\":2000,\"mode\":\"test\",\"counters\":{\"x\":1}}";
    const char *b = "{\"service\":\"collector\",\"instance\":\"c2\",\"state\":\"stopped\"}";
    int alive = -1;
    json_t *arr;
    (void)st;
    assert_int_equal(api_health_put(h, a, strlen(a), 1000), 0);
    assert_int_equal(api_health_put(h, b, strlen(b), 1000), 0);
    assert_int_equal(api_health_put(h, "nope", 4, 1000), -1);
    assert_int_equal(api_health_put(h, "{\"service\":1}", 13, 1000), -1);
    arr = api_health_service(h, "collector", 2000, &alive);
    assert_int_equal(json_array_size(arr), 2);
    assert_int_equal(alive, 1); /* c2 said stopped */
    assert_null(json_object_get(json_array_get(arr, 0), "counters"));
    json_decref(arr);
    arr = api_health_service(h, "collector", 1000 + 6001, &alive);
    assert_int_equal(alive, 0); /* older than 3 intervals */
    json_decref(arr);
    arr = api_health_service(h, "aggregator", 2000, &alive);
    assert_int_equal(json_array_size(arr), 0);
    json_decref(arr);
    api_health_destroy(h);
}

static void test_verdict(void **st) {
    api_health_in in = {1, 1, 1, 1, 1, 1};
    (void)st;
    assert_string_equal(api_health_verdict(&in), "ok");
    in.redis_up = 0;
    assert_string_equal(api_health_verdict(&in), "degraded");
    in.pg_up = 0;
    assert_string_equal(api_health_verdict(&in), "down");
    in.redis_up = in.pg_up = 1;
    in.persisters = 0;
    assert_string_equal(api_health_verdict(&in), "degraded");
    in.nats_up = 0;
    assert_string_equal(api_health_verdict(&in), "down");
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_tracker),
                                       cmocka_unit_test(test_verdict)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
