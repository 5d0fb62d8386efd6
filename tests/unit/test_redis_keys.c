/* Unit tests of mf/redis_keys.h: each builder against the literal keys of the schema and
 * against snprintf at every buffer size; invalid tokens are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "mf/redis_keys.h"

typedef int (*builder)(char *, size_t);

static void check(builder b, const char *want) {
    char got[MF_RKEY_MAX];
    int n = (int)strlen(want);
    assert_int_equal(b(got, sizeof(got)), n);
    assert_string_equal(got, want);
    assert_int_equal(b(got, (size_t)n + 1), n);
    for (int k = 0; k <= n; k++) assert_int_equal(b(got, (size_t)k), -1);
}

static int latest(char *b, size_t n) {
    return mf_rkey_latest(b, n, "exchange1", "BTCUSDT");
}
static int bucket(char *b, size_t n) {
    return mf_rkey_1s(b, n, "exchange1", "BTCUSDT", 1742457126000LL);
}
static int seen(char *b, size_t n) {
    return mf_rkey_1s_seen(b, n, "exchange1", "BTCUSDT", 1742457126000LL);
}
static int idx(char *b, size_t n) {
    return mf_rkey_1s_idx(b, n, "exchange1", "BTCUSDT");
}
static int member(char *b, size_t n) {
    return mf_rkey_symbol_member(b, n, "exchange1", "BTCUSDT");
}

static void test_literals(void **state) {
    (void)state;
    check(latest, "mf:latest:exchange1:BTCUSDT");
    check(bucket, "mf:1s:exchange1:BTCUSDT:1742457126000");
    check(seen, "mf:1s:seen:exchange1:BTCUSDT:1742457126000");
    check(idx, "mf:1s:idx:exchange1:BTCUSDT");
    check(member, "exchange1:BTCUSDT");
    assert_string_equal(MF_RKEY_SYMBOLS, "mf:symbols");
    assert_string_equal(MF_RKEY_EXCHANGES, "mf:exchanges");
}

/* Starts across the int64 range, against snprintf("%lld"). */
static void test_starts(void **state) {
    static const int64_t starts[] = {0, 1, -1, 999, 1742457126000LL, INT64_MAX, INT64_MIN};
    char want[MF_RKEY_MAX], got[MF_RKEY_MAX];
    (void)state;
    for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
        int n =
            snprintf(want, sizeof(want), "mf:1s:%s:%s:%lld", "e_x-1", "S", (long long)starts[i]);
        assert_int_equal(mf_rkey_1s(got, sizeof(got), "e_x-1", "S", starts[i]), n);
        assert_string_equal(got, want);
    }
}

static void test_bad_tokens(void **state) {
    static const char *bad[] = {"", "a:b", "a.b", "a b", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"};
    char got[MF_RKEY_MAX];
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(mf_rkey_latest(got, sizeof(got), bad[i], "S"), -1);
        assert_int_equal(mf_rkey_1s_idx(got, sizeof(got), "ex", bad[i]), -1);
        assert_int_equal(mf_rkey_1s(got, sizeof(got), bad[i], "S", 1), -1);
        assert_int_equal(mf_rkey_symbol_member(got, sizeof(got), "ex", bad[i]), -1);
    }
    assert_int_equal(mf_rkey_latest(got, sizeof(got), NULL, "S"), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_starts),
        cmocka_unit_test(test_bad_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
