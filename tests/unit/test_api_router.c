/* Unit tests of the route table (services/api/router.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "router.h"

static api_route_result parse(const char *m, const char *p, api_route *rt, char *allow, char *err) {
    return api_route_parse(m, p, rt, allow, 32, err, 256);
}

static void test_prices(void **st) {
    api_route rt;
    char allow[32], err[256];
    (void)st;
    assert_int_equal(parse("GET", "/prices/latest/btcusdt", &rt, allow, err), API_ROUTE_OK);
    assert_int_equal(rt.kind, API_R_LATEST);
    assert_string_equal(rt.symbol, "BTCUSDT");
    assert_string_equal(rt.exchange, "");
    assert_int_equal(parse("GET", "/prices/highest/Exchange1/ethusdt", &rt, allow, err),
                     API_ROUTE_OK);
    assert_int_equal(rt.kind, API_R_HIGHEST);
    assert_string_equal(rt.exchange, "Exchange1");
    assert_string_equal(rt.symbol, "ETHUSDT");
    assert_int_equal(parse("GET", "/prices/lowest/ALL/SOLUSDT", &rt, allow, err), API_ROUTE_OK);
    assert_string_equal(rt.exchange, "");
    assert_int_equal(parse("HEAD", "/prices/average/TONUSDT", &rt, allow, err), API_ROUTE_OK);
    assert_int_equal(rt.kind, API_R_AVERAGE);
}

static void test_errors(void **st) {
    api_route rt;
    char allow[32], err[256];
    (void)st;
    assert_int_equal(parse("GET", "/nope", &rt, allow, err), API_ROUTE_NOT_FOUND);
    assert_int_equal(parse("GET", "/", &rt, allow, err), API_ROUTE_NOT_FOUND);
    assert_int_equal(parse("GET", "/prices/median/BTCUSDT", &rt, allow, err), API_ROUTE_NOT_FOUND);
    assert_int_equal(parse("GET", "/prices/latest", &rt, allow, err), API_ROUTE_NOT_FOUND);
    assert_int_equal(parse("GET", "/prices/latest/a/b/c", &rt, allow, err), API_ROUTE_NOT_FOUND);
    assert_int_equal(parse("GET", "/prices/latest/BTCUSDT/", &rt, allow, err), API_ROUTE_NOT_FOUND);
    assert_int_equal(parse("GET", "/prices//BTCUSDT", &rt, allow, err), API_ROUTE_NOT_FOUND);
    assert_int_equal(parse("POST", "/prices/latest/BTCUSDT", &rt, allow, err),
                     API_ROUTE_BAD_METHOD);
    assert_string_equal(allow, "GET, HEAD");
    assert_int_equal(parse("GET", "/prices/latest/BTC$USD", &rt, allow, err), API_ROUTE_BAD_INPUT);
    assert_non_null(strstr(err, "malformed symbol"));
    assert_int_equal(parse("GET", "/prices/latest/B", &rt, allow, err), API_ROUTE_BAD_INPUT);
    assert_int_equal(parse("GET", "/prices/latest/ex!1/BTCUSDT", &rt, allow, err),
                     API_ROUTE_BAD_INPUT);
    assert_non_null(strstr(err, "malformed exchange"));
    assert_int_equal(
        parse("GET",
              "/prices/latest/"
              "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
              &rt, allow, err),
        API_ROUTE_NOT_FOUND);
}

static void test_other(void **st) {
    api_route rt;
    char allow[32], err[256];
    (void)st;
    assert_int_equal(parse("GET", "/mode", &rt, allow, err), API_ROUTE_OK);
    assert_int_equal(rt.kind, API_R_MODE_GET);
    assert_int_equal(parse("POST", "/mode", &rt, allow, err), API_ROUTE_BAD_METHOD);
    assert_int_equal(parse("POST", "/mode/test", &rt, allow, err), API_ROUTE_OK);
    assert_int_equal(rt.kind, API_R_MODE_SET);
    assert_string_equal(rt.mode, "test");
    assert_int_equal(parse("GET", "/mode/live", &rt, allow, err), API_ROUTE_BAD_METHOD);
    assert_string_equal(allow, "POST");
    assert_int_equal(parse("POST", "/mode/paper", &rt, allow, err), API_ROUTE_NOT_FOUND);
    assert_int_equal(parse("GET", "/health", &rt, allow, err), API_ROUTE_OK);
    assert_int_equal(rt.kind, API_R_HEALTH);
    assert_int_equal(parse("DELETE", "/health", &rt, allow, err), API_ROUTE_BAD_METHOD);
    assert_int_equal(parse("GET", "/openapi.json", &rt, allow, err), API_ROUTE_OK);
    assert_int_equal(parse("GET", "/ping", &rt, allow, err), API_ROUTE_OK);
    assert_int_equal(parse(NULL, "/ping", &rt, allow, err), API_ROUTE_NOT_FOUND);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_prices), cmocka_unit_test(test_errors),
                                       cmocka_unit_test(test_other)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
