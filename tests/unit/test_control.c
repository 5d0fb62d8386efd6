/* Unit tests of mf/control.h: the decoder's one set of rules (control.h) on literal payloads,
 * and encode -> decode round trips checked against the literal JSON of docs/design.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "mf/control.h"

static mf_status decode(const char *s, mf_control_msg *m) {
    return mf_control_decode(s, strlen(s), m);
}

static void test_valid(void **state) {
    mf_control_msg m;
    (void)state;
    assert_int_equal(decode("{\"mode\":\"live\",\"at\":1742457126123,\"by\":\"api/h-1\"}", &m),
                     MF_OK);
    assert_int_equal(m.mode, MF_MODE_LIVE);
    assert_int_equal(m.at, 1742457126123LL);
    assert_string_equal(m.by, "api/h-1");
    /* What `nats pub marketflow.control.mode '{"mode":"test"}'` sends. */
    assert_int_equal(decode(" {\"mode\" : \"test\"} ", &m), MF_OK);
    assert_int_equal(m.mode, MF_MODE_TEST);
    assert_int_equal(m.at, 0);
    assert_string_equal(m.by, "");
    assert_int_equal(decode("{\"mode\":\"LIVE\"}", &m), MF_OK);
    assert_int_equal(m.mode, MF_MODE_LIVE);
}

/* Optional fields of the wrong type count as absent; unknown keys are ignored. */
static void test_optional_fields(void **state) {
    mf_control_msg m;
    char longby[300];
    (void)state;
    assert_int_equal(decode("{\"mode\":\"live\",\"at\":\"now\",\"by\":7,\"x\":[1]}", &m), MF_OK);
    assert_int_equal(m.mode, MF_MODE_LIVE);
    assert_int_equal(m.at, 0);
    assert_string_equal(m.by, "");
    assert_int_equal(decode("{\"mode\":\"test\",\"at\":1.5e12}", &m), MF_OK);
    assert_int_equal(m.at, 0);
    strcpy(longby, "{\"mode\":\"test\",\"by\":\"");
    memset(longby + strlen(longby), 'b', 200);
    strcpy(longby + 21 + 200, "\"}");
    assert_int_equal(decode(longby, &m), MF_OK);
    assert_int_equal(strlen(m.by), MF_CONTROL_BY_MAX - 1);
}

static void test_rejected(void **state) {
    static const char *bad[] = {
        "",
        "live",
        "{\"mode\":\"LIVE!\"}",
        "{\"mode\":1}",
        "[\"live\"]",
        "{\"mode\":\"live\"",
        "{\"other\":\"live\"}",
        "{\"mode\":null}",
        "{\"mode\":\"live\",\"mode\":\"test\"}", /* duplicate keys */
        "{\"mode\":\"live\"} x",
        "\"live\"",
    };
    mf_control_msg m = {.mode = MF_MODE_TEST, .at = 5, .by = "keep"};
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(decode(bad[i], &m), MF_ERR_PARSE);
    assert_int_equal(mf_control_decode(NULL, 0, &m), MF_ERR_PARSE);
    /* Untouched on error. */
    assert_int_equal(m.mode, MF_MODE_TEST);
    assert_int_equal(m.at, 5);
    assert_string_equal(m.by, "keep");
}

/* Not NUL-terminated: only len bytes count. */
static void test_len(void **state) {
    const char *s = "{\"mode\":\"live\"}garbage";
    mf_control_msg m;
    (void)state;
    assert_int_equal(mf_control_decode(s, 15, &m), MF_OK);
    assert_int_equal(m.mode, MF_MODE_LIVE);
    assert_int_equal(mf_control_decode(s, 14, &m), MF_ERR_PARSE);
}

static void test_encode(void **state) {
    mf_control_msg m = {.mode = MF_MODE_LIVE, .at = 1742457126123LL, .by = "api/h-1"}, back;
    const char *want = "{\"mode\":\"live\",\"at\":1742457126123,\"by\":\"api/h-1\"}";
    char buf[128];
    int n = (int)strlen(want);
    (void)state;
    assert_int_equal(mf_control_encode(&m, buf, sizeof(buf)), n);
    assert_string_equal(buf, want);
    assert_int_equal(mf_control_decode(buf, (size_t)n, &back), MF_OK);
    assert_int_equal(back.mode, m.mode);
    assert_int_equal(back.at, m.at);
    assert_string_equal(back.by, m.by);
    assert_int_equal(mf_control_encode(&m, buf, (size_t)n + 1), n);
    for (int k = 0; k <= n; k++) assert_int_equal(mf_control_encode(&m, buf, (size_t)k), -1);
    /* Absent fields are left out; quotes in "by" are escaped. */
    memset(&m, 0, sizeof(m));
    assert_int_equal(mf_control_encode(&m, buf, sizeof(buf)), 15);
    assert_string_equal(buf, "{\"mode\":\"test\"}");
    strcpy(m.by, "a\"b");
    mf_control_encode(&m, buf, sizeof(buf));
    assert_string_equal(buf, "{\"mode\":\"test\",\"by\":\"a\\\"b\"}");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),    cmocka_unit_test(test_optional_fields),
        cmocka_unit_test(test_rejected), cmocka_unit_test(test_len),
        cmocka_unit_test(test_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
