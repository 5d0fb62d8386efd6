/* Unit tests of the control payload parser (services/collector/control.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "control.h"

static int parse(const char *s, mf_mode *m) {
    return coll_control_parse(s, (int)strlen(s), m);
}

static void test_valid(void **state) {
    mf_mode m = MF_MODE_TEST;
    (void)state;
    assert_int_equal(parse("{\"mode\":\"live\",\"at\":1,\"by\":\"api\"}", &m), 0);
    assert_int_equal(m, MF_MODE_LIVE);
    assert_int_equal(parse(" {\"mode\" : \"test\"} ", &m), 0);
    assert_int_equal(m, MF_MODE_TEST);
}

static void test_malformed(void **state) {
    mf_mode m = MF_MODE_TEST;
    (void)state;
    assert_int_equal(parse("", &m), -1);
    assert_int_equal(parse("live", &m), -1);
    assert_int_equal(parse("{\"mode\":\"LIVE!\"}", &m), -1);
    assert_int_equal(parse("{\"mode\":1}", &m), -1);
    assert_int_equal(parse("[\"live\"]", &m), -1);
    assert_int_equal(parse("{\"mode\":\"live\"", &m), -1);
    assert_int_equal(parse("{\"other\":\"live\"}", &m), -1);
    assert_int_equal(coll_control_parse(NULL, 0, &m), -1);
    assert_int_equal(m, MF_MODE_TEST);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
