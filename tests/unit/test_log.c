/* Unit tests of log.c: the logfmt line format, escaping, levels, rate limiting. */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mf/log.h"

static void assert_matches(const char *text, const char *pattern) {
    regex_t re;
    int rc;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    rc = regexec(&re, text, 0, NULL, 0);
    regfree(&re);
    if (rc != 0) fail_msg("'%s' does not match /%s/", text, pattern);
}

static void test_format(void **state) {
    char buf[512];
    size_t n;
    (void)state;
    mf_log_init("aggregator", "host-12", MF_LOG_INFO);
    n = mf_log_format(buf, sizeof(buf), 1795276404125LL, MF_LOG_INFO, "services/agg/x.c", 91,
                      "stopped processed=10000");
    assert_int_equal(n, strlen(buf));
    assert_string_equal(buf, "ts=2026-11-21T15:53:24.125Z level=info svc=aggregator inst=host-12 "
                             "src=x.c:91 msg=\"stopped processed=10000\"\n");
    n = mf_log_format(buf, sizeof(buf), 0, MF_LOG_ERROR, "a.c", 1, "say \"hi\"\nback\\slash\x01");
    assert_matches(buf, "^ts=1970-01-01T00:00:00\\.000Z level=error svc=aggregator inst=host-12 "
                        "src=a\\.c:1 msg=\"say \\\\\"hi\\\\\"\\\\nback\\\\\\\\slash\\\\x01\"\n$");
    assert_null(strchr(buf, '\n') == buf + n - 1 ? NULL : buf); /* exactly one newline, last */
}

static void test_truncation(void **state) {
    char buf[100];
    char msg[1000];
    (void)state;
    memset(msg, 'x', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    mf_log_format(buf, sizeof(buf), 0, MF_LOG_WARN, "a.c", 1, msg);
    assert_true(strlen(buf) < sizeof(buf));
    assert_int_equal(buf[strlen(buf) - 1], '\n');
}

static void test_levels_and_stream(void **state) {
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    mf_log_level l;
    (void)state;
    assert_int_equal(mf_log_level_parse("debug", &l), 0);
    assert_int_equal(l, MF_LOG_DEBUG);
    assert_int_equal(mf_log_level_parse("WARN", &l), 0);
    assert_int_equal(l, MF_LOG_WARN);
    assert_int_equal(mf_log_level_parse("loud", &l), -1);
    mf_log_init("svc", "", MF_LOG_WARN);
    mf_log_set_stream(f);
    mf_log(MF_LOG_INFO, "hidden %d", 1);
    mf_log(MF_LOG_ERROR, "shown %d", 2);
    for (int i = 0; i < 100; i++) mf_log_ratelimited(MF_LOG_WARN, 60000, "bad line %d", i);
    mf_log_set_stream(NULL);
    fclose(f);
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, "level=error svc=svc src=test_log.c"));
    assert_non_null(strstr(out, "msg=\"shown 2\""));
    assert_non_null(strstr(out, "bad line 0"));
    assert_null(strstr(out, "bad line 1\"")); /* the other 99 were held back */
    free(out);
}

static void test_limiter_counts_suppressed(void **state) {
    mf_log_limiter lim = {0};
    long long sup = -1;
    (void)state;
    assert_true(mf_log_limiter_pass(&lim, 100000, &sup));
    assert_int_equal(sup, 0);
    for (int i = 0; i < 5; i++) assert_false(mf_log_limiter_pass(&lim, 100000, &sup));
    lim.next_ms = 0; /* as if the interval passed */
    assert_true(mf_log_limiter_pass(&lim, 100000, &sup));
    assert_int_equal(sup, 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_levels_and_stream),
        cmocka_unit_test(test_limiter_counts_suppressed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
