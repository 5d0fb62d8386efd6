/* Unit tests of the strict flat-object scanner: JSON grammar acceptance and rejection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "flatjson.h"

typedef struct seen {
    int members;
    char last_str[300];
} seen;

static int on_member(void *ctx, const char *key, size_t klen, const fj_value *v) {
    seen *s = ctx;
    (void)key, (void)klen;
    s->members++;
    if (v->type == FJ_STRING && v->len < sizeof(s->last_str)) {
        memcpy(s->last_str, v->s, v->len);
        s->last_str[v->len] = '\0';
    }
    return 0;
}

static int scan(const char *text, seen *s) {
    memset(s, 0, sizeof(*s));
    return mf__fj_scan(text, strlen(text), on_member, s);
}

static void test_valid(void **state) {
    static const char *ok[] = {
        "{}",
        " {} ",
        "{\"a\":1}",
        "{\"a\":-0.5e-3,\"b\":0,\"c\":1E+2}",
        "{\"a\":true,\"b\":false,\"c\":null}",
        "{\"a\":{\"x\":[1,{\"y\":[]},\"z\"]},\"b\":[]}",
        "{\"a\":\"\\u00e9\\n\\t\\\"\\\\\\/\"}",
        "{\"a\":\"\\ud83d\\ude00\"}",
        "\n{\"a\" : \"b\" , \"c\" : 2 }\n",
    };
    seen s;
    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (scan(ok[i], &s) != 0) fail_msg("rejected valid JSON %zu: %s", i, ok[i]);
    scan("{\"a\":\"x\\\"y\"}", &s);
    assert_string_equal(s.last_str, "x\"y");
    scan("{\"a\":\"\\u00e9\"}", &s);
    assert_string_equal(s.last_str, "\xc3\xa9");
}

static void test_invalid(void **state) {
    static const char *bad[] = {
        "",
        "{",
        "}",
        "[]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{a:1}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":-}",
        "{\"a\":+1}",
        "{\"a\":1e}",
        "{\"a\":tru}",
        "{\"a\":NaN}",
        "{\"a\":\"unterminated}",
        "{\"a\":\"bad \\x escape\"}",
        "{\"a\":\"\\ud83d alone\"}",
        "{\"a\":\"\\ude00\"}",
        "{\"a\":\"ctl \x01 char\"}",
        "{\"a\":[1,2}",
        "{\"a\":1}{}",
        "{\"a\":1} x",
        "{'a':1}",
    };
    seen s;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (scan(bad[i], &s) == 0) fail_msg("accepted invalid JSON %zu: %s", i, bad[i]);
}

static void test_depth_limit(void **state) {
    char buf[512];
    size_t n = 0;
    seen s;
    (void)state;
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{\"a\":");
    for (int i = 0; i < 100; i++) buf[n++] = '[';
    for (int i = 0; i < 100; i++) buf[n++] = ']';
    buf[n++] = '}';
    buf[n] = '\0';
    assert_int_equal(scan(buf, &s), -1); /* deeper than 32: rejected, not recursed into */
}

static void test_numbers(void **state) {
    fj_value v = {FJ_NUMBER, "123456789012", 12, 1};
    long long i;
    double d;
    (void)state;
    assert_int_equal(mf__fj_int64(&v, &i), 0);
    assert_int_equal(i, 123456789012LL);
    v.s = "99999999999999999999";
    v.len = 20;
    assert_int_equal(mf__fj_int64(&v, &i), -1);
    v.s = "0.1";
    v.len = 3;
    v.is_integer = 0;
    assert_int_equal(mf__fj_int64(&v, &i), -1);
    assert_int_equal(mf__fj_double(&v, &d), 0);
    assert_true(d == 0.1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
