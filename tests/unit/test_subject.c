/* Unit tests of mf/subject.h: every builder against the literal subjects of docs/design.md
 * sections 4 and 11 and against snprintf at every buffer size; the parser round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "mf/subject.h"

/* got == want, and every buffer too small by at least one byte gives -1. */
static void check_sizes(int (*build)(char *, size_t), const char *want) {
    char got[MF_SUBJECT_MAX];
    int n = (int)strlen(want);
    assert_int_equal(build(got, sizeof(got)), n);
    assert_string_equal(got, want);
    assert_int_equal(build(got, (size_t)n + 1), n);
    for (int k = 0; k <= n; k++) assert_int_equal(build(got, (size_t)k), -1);
}

static int b_tick_key(char *b, size_t n) {
    return mf_subject_key(b, n, "marketflow", MF_SUBJECT_TICKS, "exchange1", "BTCUSDT");
}
static int b_rollup(char *b, size_t n) {
    return mf_subject_rollup(b, n, "marketflow", "1m", "exchange1", "BTCUSDT");
}
static int b_latest(char *b, size_t n) {
    return mf_subject_key(b, n, "marketflow", MF_SUBJECT_LATEST, "exchange1", "BTCUSDT");
}
static int b_mode(char *b, size_t n) {
    return mf_subject_control_mode(b, n, "marketflow");
}
static int b_status(char *b, size_t n) {
    return mf_subject_status(b, n, "marketflow", "collector", "host-1234");
}
static int b_snapshot(char *b, size_t n) {
    return mf_subject_key(b, n, "marketflow", MF_SUBJECT_DEPTH_SNAPSHOT, "exchange1", "ETHUSDT");
}
static int b_candles(char *b, size_t n) {
    return mf_subject_candles(b, n, "marketflow", "1h", "all", "ETHUSDT");
}
static int b_all(char *b, size_t n) {
    return mf_subject_all(b, n, "marketflow", MF_SUBJECT_ROLLUPS);
}

/* The literal subjects of the contract. */
static void test_literals(void **state) {
    (void)state;
    check_sizes(b_tick_key, "marketflow.ticks.exchange1.BTCUSDT");
    check_sizes(b_rollup, "marketflow.rollups.1m.exchange1.BTCUSDT");
    check_sizes(b_latest, "marketflow.latest.exchange1.BTCUSDT");
    check_sizes(b_mode, "marketflow.control.mode");
    check_sizes(b_status, "marketflow.status.collector.host-1234");
    check_sizes(b_snapshot, "marketflow.depth.snapshot.exchange1.ETHUSDT");
    check_sizes(b_candles, "marketflow.candles.1h.all.ETHUSDT");
    check_sizes(b_all, "marketflow.rollups.>");
}

/* Every keyed family against snprintf of its documented tokens. */
static void test_keyed_against_snprintf(void **state) {
    static const char *tok[] = {"ticks",          "rollups.1s", "rollups.1m", "latest", "depth",
                                "depth.snapshot", "book",       "coverage",   "stats"};
    char want[MF_SUBJECT_MAX], got[MF_SUBJECT_MAX], base[MF_SUBJECT_MAX];
    (void)state;
    assert_int_equal(sizeof(tok) / sizeof(tok[0]), MF_SUBJECT_KEYED_COUNT);
    for (int f = 0; f < MF_SUBJECT_KEYED_COUNT; f++) {
        int n = snprintf(want, sizeof(want), "mf-x.%s.ex_2.DOGE-USDT", tok[f]);
        assert_string_equal(mf_subject_family_str((mf_subject_family)f), tok[f]);
        assert_int_equal(
            mf_subject_key(got, sizeof(got), "mf-x", (mf_subject_family)f, "ex_2", "DOGE-USDT"), n);
        assert_string_equal(got, want);
        assert_int_equal(mf_subject_base(base, sizeof(base), "mf-x", (mf_subject_family)f),
                         (int)strlen(tok[f]) + 6);
        assert_int_equal(mf_subject_key_on(got, sizeof(got), base, "ex_2", "DOGE-USDT"), n);
        assert_string_equal(got, want);
        snprintf(want, sizeof(want), "mf-x.%s.>", tok[f]);
        assert_int_equal(mf_subject_all(got, sizeof(got), "mf-x", (mf_subject_family)f),
                         (int)strlen(want));
        assert_string_equal(got, want);
    }
    /* Families without <exchange>.<symbol> have no key form. */
    assert_int_equal(mf_subject_key(got, sizeof(got), "mf", MF_SUBJECT_STATUS, "a", "b"), -1);
    assert_int_equal(mf_subject_key(got, sizeof(got), "mf", MF_SUBJECT_CANDLES, "a", "b"), -1);
    assert_null(mf_subject_family_str(MF_SUBJECT_FAMILY_COUNT));
}

/* The tick subject of the hot path (moved from the collector's coll__tick_subject): against
 * snprintf, and every too-small buffer gives -1. */
static void test_tick_subject(void **state) {
    mf_tick t = {0};
    char base[64], want[160], got[160];
    int n;
    (void)state;
    snprintf(t.exchange, sizeof(t.exchange), "exchange2");
    snprintf(t.symbol, sizeof(t.symbol), "DOGEUSDT");
    assert_int_equal(mf_subject_base(base, sizeof(base), "mf", MF_SUBJECT_TICKS), 9);
    assert_string_equal(base, "mf.ticks.");
    n = snprintf(want, sizeof(want), "%s%s.%s", "mf.ticks.", t.exchange, t.symbol);
    assert_int_equal(mf_subject_tick(got, sizeof(got), base, &t), n);
    assert_string_equal(got, want);
    for (int k = 0; k <= n; k++) assert_int_equal(mf_subject_tick(got, (size_t)k, base, &t), -1);
}

/* Tokens: [A-Za-z0-9_-]{1,32}; status instances up to 63. */
static void test_tokens(void **state) {
    char got[MF_SUBJECT_MAX], tok32[33], tok33[34], inst63[64], inst64[65];
    (void)state;
    memset(tok32, 'a', 32), tok32[32] = '\0';
    memset(tok33, 'a', 33), tok33[33] = '\0';
    memset(inst63, 'i', 63), inst63[63] = '\0';
    memset(inst64, 'i', 64), inst64[64] = '\0';
    assert_int_equal(mf_subject_key(got, sizeof(got), "mf", MF_SUBJECT_TICKS, tok32, "S"), 43);
    assert_int_equal(mf_subject_key(got, sizeof(got), "mf", MF_SUBJECT_TICKS, tok33, "S"), -1);
    assert_int_equal(mf_subject_key(got, sizeof(got), "mf", MF_SUBJECT_TICKS, "ex", tok33), -1);
    assert_int_equal(mf_subject_key(got, sizeof(got), "mf", MF_SUBJECT_TICKS, "", "S"), -1);
    assert_int_equal(mf_subject_key(got, sizeof(got), "mf", MF_SUBJECT_TICKS, NULL, "S"), -1);
    static const char *bad[] = {"a.b", "a*", ">", "a b", "é", "a\tb", "BTC/USDT"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(mf_subject_key(got, sizeof(got), "mf", MF_SUBJECT_LATEST, bad[i], "S"),
                         -1);
        assert_int_equal(mf_subject_key(got, sizeof(got), "mf", MF_SUBJECT_LATEST, "ex", bad[i]),
                         -1);
        assert_int_equal(mf_subject_candles(got, sizeof(got), "mf", bad[i], "ex", "S"), -1);
    }
    assert_int_equal(mf_subject_rollup(got, sizeof(got), "mf", "5m", "ex", "S"), -1);
    assert_int_equal(mf_subject_status(got, sizeof(got), "mf", "api", inst63), 77);
    assert_int_equal(mf_subject_status(got, sizeof(got), "mf", "api", inst64), -1);
    assert_int_equal(mf_subject_control_mode(got, sizeof(got), ""), -1);
}

static void parse_ok(const char *s, mf_subject_family f, const char *a, const char *b) {
    mf_subject_parts p;
    assert_int_equal(mf_subject_parse(s, strlen(s), "marketflow", &p), 0);
    assert_int_equal(p.family, f);
    assert_string_equal(p.a, a);
    assert_string_equal(p.b, b);
}

static void parse_bad(const char *s) {
    mf_subject_parts p;
    assert_int_equal(mf_subject_parse(s, strlen(s), "marketflow", &p), -1);
}

static void test_parse(void **state) {
    mf_subject_parts p;
    char built[MF_SUBJECT_MAX];
    const char *s = "marketflow.ticks.exchange1.BTCUSDT and more";
    (void)state;
    parse_ok("marketflow.ticks.exchange1.BTCUSDT", MF_SUBJECT_TICKS, "exchange1", "BTCUSDT");
    parse_ok("marketflow.rollups.1s.ex.S", MF_SUBJECT_ROLLUPS_1S, "ex", "S");
    parse_ok("marketflow.rollups.1m.ex.S", MF_SUBJECT_ROLLUPS_1M, "ex", "S");
    parse_ok("marketflow.latest.ex.S", MF_SUBJECT_LATEST, "ex", "S");
    parse_ok("marketflow.control.mode", MF_SUBJECT_CONTROL, "", "");
    parse_ok("marketflow.status.api.host-1", MF_SUBJECT_STATUS, "api", "host-1");
    /* Not NUL-terminated: only len bytes count. */
    assert_int_equal(mf_subject_parse(s, 34, "marketflow", &p), 0);
    assert_string_equal(p.b, "BTCUSDT");
    parse_bad("marketflow.ticks.exchange1");
    parse_bad("marketflow.ticks.exchange1.BTCUSDT.x");
    parse_bad("marketflow.ticks..BTCUSDT");
    parse_bad("marketflow.ticks.ex.");
    parse_bad("marketflow.rollups.5m.ex.S");
    parse_bad("marketflow.control.other");
    parse_bad("marketflow.control.mode.x");
    parse_bad("marketflow.depth.ex.S"); /* second wave: builders only */
    parse_bad("other.ticks.ex.S");
    parse_bad("marketflowx.ticks.ex.S");
    parse_bad("marketflow");
    parse_bad("");
    /* Round trip through the builder. */
    assert_true(mf_subject_rollup(built, sizeof(built), "marketflow", "1s", "e-1", "X_Y") > 0);
    parse_ok(built, MF_SUBJECT_ROLLUPS_1S, "e-1", "X_Y");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),     cmocka_unit_test(test_keyed_against_snprintf),
        cmocka_unit_test(test_tick_subject), cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
