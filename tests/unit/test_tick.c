/* Unit tests of tick.c: the feed line parser (docs/design.md section 3 rules), the bus tick JSON
 * round trip with 17-digit prices, message ids and the open/close order. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mf/tick.h"

#define NOW 1795276404307LL
#define HOUR 3600000LL

static mf_reject parse(const char *line, mf_tick *t) {
    return mf_feed_line_parse(line, strlen(line), NOW, HOUR, 30000, t);
}

static void test_captured_lines(void **state) {
    /* Lines as the provided exchange programs print them. */
    static const struct {
        const char *line;
        const char *sym;
        double price;
        long long ts;
    } cases[] = {
        {"{\"symbol\":\"BTCUSDT\",\"price\":99815.54088375505,\"timestamp\":1795276404307}",
         "BTCUSDT", 99815.54088375505, 1795276404307LL},
        {"{\"symbol\":\"DOGEUSDT\",\"price\":0.2987076250137248,\"timestamp\":1795276404307}",
         "DOGEUSDT", 0.2987076250137248, 1795276404307LL},
        {"{\"symbol\":\"TONUSDT\",\"price\":3.888895473752344,\"timestamp\":1795276404308}",
         "TONUSDT", 3.888895473752344, 1795276404308LL},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mf_tick t;
        assert_int_equal(parse(cases[i].line, &t), MF_REJECT_NONE);
        assert_string_equal(t.symbol, cases[i].sym);
        assert_true(t.price == cases[i].price);
        assert_int_equal(t.ts, cases[i].ts);
        assert_false(t.has_qty);
        assert_false(t.has_id);
    }
}

/* Fewer lines than one second of one exchange (five symbols every 100 ms) means the capture
 * is missing or cut short: a replay test must not pass on it. */
#define FIXTURE_MIN_LINES 50

/* Lines of `path` as a newline count, independent of the parser's view of them. */
static int count_newlines(const char *path) {
    FILE *f = fopen(path, "r");
    int c, n = 0;
    if (f == NULL) return -1;
    while ((c = fgetc(f)) != EOF)
        if (c == '\n') n++;
    fclose(f);
    return n;
}

static void test_fixture_lines(void **state) {
    /* Every captured line of tests/fixtures/exchange-feed parses, and its price survives the
     * bus. Each file must exist and hold at least FIXTURE_MIN_LINES lines, all of them read. */
    static const char *files[] = {"exchange1.jsonl", "exchange2.jsonl", "exchange3.jsonl"};
    int total = 0;
    (void)state;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[512], buf[8192];
        int lines = 0, want;
        FILE *f;
        snprintf(path, sizeof(path), "%s/exchange-feed/%s", MF_FIXTURES_DIR, files[i]);
        want = count_newlines(path);
        if (want < FIXTURE_MIN_LINES)
            fail_msg("%s: %d lines (missing or short; want >= %d)", path, want, FIXTURE_MIN_LINES);
        f = fopen(path, "r");
        assert_non_null(f);
        while (fgets(buf, sizeof(buf), f)) {
            mf_tick t, back;
            char json[512];
            size_t len = strcspn(buf, "\n");
            const char *p = strstr(buf, "\"price\":");
            assert_int_equal(mf_feed_line_parse(buf, len, 0, 0, 0, &t), MF_REJECT_NONE);
            assert_non_null(p);
            assert_true(t.price == strtod(p + 8, NULL));
            snprintf(t.exchange, sizeof(t.exchange), "exchange%zu", i + 1);
            t.recv_ts = t.ts + 1;
            assert_true(mf_tick_to_json(&t, json, sizeof(json)) > 0);
            assert_int_equal(mf_tick_from_json(json, strlen(json), &back), MF_OK);
            assert_memory_equal(&back.price, &t.price, sizeof(double));
            lines++;
        }
        fclose(f);
        assert_int_equal(lines, want);
        total += lines;
    }
    print_message("fixture lines checked: %d\n", total);
}

static void test_optional_fields(void **state) {
    mf_tick t;
    (void)state;
    assert_int_equal(parse("{\"symbol\":\"ETHUSDT\",\"price\":3050.5,\"timestamp\":1795276404000,"
                           "\"qty\":0.25,\"id\":42,\"side\":\"sell\",\"extra\":{\"a\":[1,2]}}",
                           &t),
                     MF_REJECT_NONE);
    assert_true(t.has_qty && t.qty == 0.25);
    assert_true(t.has_id && t.id == 42);
    assert_int_equal(t.side, MF_SIDE_SELL);
    /* Field order does not matter; CRLF is tolerated; whitespace is JSON's. */
    assert_int_equal(parse(" { \"timestamp\" : 1795276404000 , \"price\" : 1e2 , \"symbol\" : "
                           "\"SOLUSDT\" }\r",
                           &t),
                     MF_REJECT_NONE);
    assert_true(t.price == 100.0);
    assert_int_equal(parse("{\"symbol\":\"ETHUSDT\",\"price\":1,\"timestamp\":1795276404000,"
                           "\"qty\":-1}",
                           &t),
                     MF_REJECT_OPTIONAL);
    assert_int_equal(parse("{\"symbol\":\"ETHUSDT\",\"price\":1,\"timestamp\":1795276404000,"
                           "\"side\":\"up\"}",
                           &t),
                     MF_REJECT_OPTIONAL);
    assert_int_equal(parse("{\"symbol\":\"ETHUSDT\",\"price\":1,\"timestamp\":1795276404000,"
                           "\"id\":1.5}",
                           &t),
                     MF_REJECT_OPTIONAL);
}

static void test_rejects(void **state) {
    static const struct {
        const char *line;
        mf_reject want;
    } cases[] = {
        {"", MF_REJECT_JSON},
        {"garbage", MF_REJECT_JSON},
        {"{\"symbol\":\"BTCUSDT\",\"price\":1,\"timestamp\":1795276404000", MF_REJECT_JSON},
        {"{\"symbol\":\"BTCUSDT\",\"price\":NaN,\"timestamp\":1795276404000}", MF_REJECT_JSON},
        {"{\"symbol\":\"BTCUSDT\",\"price\":Infinity,\"timestamp\":1795276404000}", MF_REJECT_JSON},
        {"{\"symbol\":\"BTCUSDT\",\"price\":1,\"timestamp\":1795276404000}x", MF_REJECT_JSON},
        {"[1,2,3]", MF_REJECT_JSON},
        {"{\"price\":1,\"timestamp\":1795276404000}", MF_REJECT_MISSING},
        {"{\"symbol\":\"BTCUSDT\",\"timestamp\":1795276404000}", MF_REJECT_MISSING},
        {"{\"symbol\":\"BTCUSDT\",\"price\":1}", MF_REJECT_MISSING},
        {"{\"symbol\":\"BTCUSDT\",\"price\":\"1.0\",\"timestamp\":1795276404000}",
         MF_REJECT_MISSING},
        {"{\"symbol\":7,\"price\":1,\"timestamp\":1795276404000}", MF_REJECT_MISSING},
        {"{\"symbol\":\"BTCUSDT\",\"price\":0,\"timestamp\":1795276404000}", MF_REJECT_PRICE},
        {"{\"symbol\":\"BTCUSDT\",\"price\":-5.5,\"timestamp\":1795276404000}", MF_REJECT_PRICE},
        {"{\"symbol\":\"BTCUSDT\",\"price\":1e400,\"timestamp\":1795276404000}", MF_REJECT_PRICE},
        {"{\"symbol\":\"btcusdt\",\"price\":1,\"timestamp\":1795276404000}", MF_REJECT_SYMBOL},
        {"{\"symbol\":\"B\",\"price\":1,\"timestamp\":1795276404000}", MF_REJECT_SYMBOL},
        {"{\"symbol\":\"ABCDEFGHIJKLMNOPQRSTU\",\"price\":1,\"timestamp\":1795276404000}",
         MF_REJECT_SYMBOL},
        {"{\"symbol\":\"BTC.USDT\",\"price\":1,\"timestamp\":1795276404000}", MF_REJECT_SYMBOL},
        {"{\"symbol\":\"BTCUSDT\",\"price\":1,\"timestamp\":1795276404000.5}", MF_REJECT_TIMESTAMP},
        {"{\"symbol\":\"BTCUSDT\",\"price\":1,\"timestamp\":-1}", MF_REJECT_TIMESTAMP},
        {"{\"symbol\":\"BTCUSDT\",\"price\":1,\"timestamp\":99999999999999999999}",
         MF_REJECT_TIMESTAMP},
        {"{\"symbol\":\"BTCUSDT\",\"price\":1,\"timestamp\":1795272000000}",
         MF_REJECT_TIMESTAMP}, /* more than an hour old */
        {"{\"symbol\":\"BTCUSDT\",\"price\":1,\"timestamp\":1795276504307}",
         MF_REJECT_TIMESTAMP}, /* 100 s ahead */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mf_tick t;
        mf_reject got = parse(cases[i].line, &t);
        if (got != cases[i].want)
            fail_msg("line %zu '%s': got %s want %s", i, cases[i].line, mf_reject_str(got),
                     mf_reject_str(cases[i].want));
    }
    assert_string_equal(mf_reject_str(MF_REJECT_TOO_LONG), "too_long");
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t next_u64(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double random_price(void) {
    /* Random mantissa bits over many magnitudes: 17 significant digits are needed. */
    double x;
    uint64_t bits = (next_u64() & 0x000FFFFFFFFFFFFFULL) |
                    ((uint64_t)(1023 - 30 + (int)(next_u64() % 50)) << 52);
    memcpy(&x, &bits, sizeof(x));
    return x;
}

static void test_bus_round_trip(void **state) {
    (void)state;
    for (int i = 0; i < 100000; i++) {
        mf_tick t = {0}, back;
        char json[512];
        int n;
        snprintf(t.exchange, sizeof(t.exchange), "exchange%d", i % 3);
        snprintf(t.symbol, sizeof(t.symbol), "SYM%d", i % 7);
        t.price = random_price();
        t.ts = 1795276404307LL + i;
        t.recv_ts = t.ts + 3;
        if (i % 2) {
            t.has_qty = 1;
            t.qty = random_price();
            t.has_id = 1;
            t.id = i;
            t.side = i % 4 == 1 ? MF_SIDE_BUY : MF_SIDE_SELL;
        }
        n = mf_tick_to_json(&t, json, sizeof(json));
        assert_true(n > 0);
        assert_int_equal(mf_tick_from_json(json, (size_t)n, &back), MF_OK);
        assert_memory_equal(&back.price, &t.price, sizeof(double));
        assert_memory_equal(&back.qty, &t.qty, sizeof(double));
        assert_string_equal(back.exchange, t.exchange);
        assert_string_equal(back.symbol, t.symbol);
        assert_int_equal(back.ts, t.ts);
        assert_int_equal(back.recv_ts, t.recv_ts);
        assert_int_equal(back.has_id, t.has_id);
        assert_int_equal(back.id, t.id);
        assert_int_equal(back.side, t.side);
    }
}

/* The encoders against a printf reference (the number text from mf_fmt_double, which
 * test_fmt_double checks against snprintf + strtod); every too-small buffer gives -1. */
static int ref_json(const mf_tick *t, char *buf, size_t size) {
    char price[32], qty[32], tail[128] = "";
    mf_fmt_double(price, sizeof(price), t->price);
    if (t->has_qty) {
        mf_fmt_double(qty, sizeof(qty), t->qty);
        snprintf(tail, sizeof(tail), ",\"qty\":%s", qty);
    }
    if (t->has_id)
        snprintf(tail + strlen(tail), sizeof(tail) - strlen(tail), ",\"id\":%lld",
                 (long long)t->id);
    if (t->side != MF_SIDE_NONE)
        snprintf(tail + strlen(tail), sizeof(tail) - strlen(tail), ",\"side\":\"%s\"",
                 t->side == MF_SIDE_BUY ? "buy" : "sell");
    return snprintf(buf, size,
                    "{\"exchange\":\"%s\",\"symbol\":\"%s\",\"price\":%s,\"ts\":%lld,"
                    "\"recv_ts\":%lld%s}",
                    t->exchange, t->symbol, price, (long long)t->ts, (long long)t->recv_ts, tail);
}

static void test_encoders_against_printf(void **state) {
    static const int64_t ints[] = {0, 1, -1, 9, 10, 1795276404307LL, INT64_MAX, INT64_MIN + 1};
    (void)state;
    for (int i = 0; i < 2000; i++) {
        mf_tick t = {0};
        char want[512], got[512], id_want[160], id_got[160], price[32];
        int n, k;
        snprintf(t.exchange, sizeof(t.exchange), "exchange%d", i);
        snprintf(t.symbol, sizeof(t.symbol), "SYM%d", i % 11);
        t.price = random_price();
        t.ts = ints[i % 8];
        t.recv_ts = ints[(i / 8) % 8];
        t.has_qty = i % 3 == 0;
        t.qty = random_price();
        t.has_id = i % 5 < 2;
        t.id = ints[(i + 3) % 8];
        t.side = (mf_side)(i % 3);
        n = ref_json(&t, want, sizeof(want));
        assert_int_equal(mf_tick_to_json(&t, got, sizeof(got)), n);
        assert_string_equal(got, want);
        for (k = 0; k <= n; k++) assert_int_equal(mf_tick_to_json(&t, got, (size_t)k), -1);
        assert_int_equal(mf_tick_to_json(&t, got, (size_t)n + 1), n);
        mf_fmt_double(price, sizeof(price), t.price);
        if (t.has_id)
            n = snprintf(id_want, sizeof(id_want), "%s:%s:%lld:%lld", t.exchange, t.symbol,
                         (long long)t.ts, (long long)t.id);
        else
            n = snprintf(id_want, sizeof(id_want), "%s:%s:%lld:%s", t.exchange, t.symbol,
                         (long long)t.ts, price);
        assert_int_equal(mf_tick_msg_id(&t, id_got, sizeof(id_got)), n);
        assert_string_equal(id_got, id_want);
        for (k = 0; k <= n; k++) assert_int_equal(mf_tick_msg_id(&t, id_got, (size_t)k), -1);
    }
}

static void test_bus_rejects(void **state) {
    static const char *bad[] = {
        "",
        "{}",
        "{\"exchange\":\"ex\",\"symbol\":\"S\",\"price\":1}",
        "{\"exchange\":\"e x\",\"symbol\":\"S\",\"price\":1,\"ts\":1}",
        "{\"exchange\":\"ex\",\"symbol\":\"S.T\",\"price\":1,\"ts\":1}",
        "{\"exchange\":\"ex\",\"symbol\":\"S\",\"price\":-1,\"ts\":1}",
        "{\"exchange\":\"ex\",\"symbol\":\"S\",\"price\":1,\"ts\":1.5}",
        "{\"exchange\":\"ex\",\"symbol\":\"S\",\"price\":1,\"ts\":1,\"qty\":\"x\"}",
        "{\"exchange\":\"ex\",\"symbol\":\"S\",\"price\":1,\"ts\":1",
        "{\"exchange\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"symbol\":\"S\",\"price\":1,"
        "\"ts\":1}",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mf_tick t;
        if (mf_tick_from_json(bad[i], strlen(bad[i]), &t) != MF_ERR_PARSE)
            fail_msg("accepted bad tick %zu: %s", i, bad[i]);
    }
}

static void test_msg_id_and_order(void **state) {
    mf_tick t = {0};
    char id[128];
    (void)state;
    snprintf(t.exchange, sizeof(t.exchange), "exchange1");
    snprintf(t.symbol, sizeof(t.symbol), "BTCUSDT");
    t.ts = 1742457126123LL;
    t.price = 100143.27730216153;
    assert_true(mf_tick_msg_id(&t, id, sizeof(id)) > 0);
    assert_string_equal(id, "exchange1:BTCUSDT:1742457126123:100143.27730216153");
    t.has_id = 1;
    t.id = 77;
    mf_tick_msg_id(&t, id, sizeof(id));
    assert_string_equal(id, "exchange1:BTCUSDT:1742457126123:77");
    assert_int_equal(mf_tick_msg_id(&t, id, 8), -1);
    assert_true(mf_tick_order(1, -1, 5.0, 2, -1, 1.0) < 0);
    assert_true(mf_tick_order(2, 3, 1.0, 2, 4, 1.0) < 0);
    assert_true(mf_tick_order(2, -1, 1.0, 2, 0, 1.0) < 0); /* no id sorts first */
    assert_true(mf_tick_order(2, 4, 2.0, 2, 4, 1.0) > 0);
    assert_int_equal(mf_tick_order(2, 4, 1.0, 2, 4, 1.0), 0);
    assert_true(mf_token_valid("exchange_1-a"));
    assert_false(mf_token_valid(""));
    assert_false(mf_token_valid("a.b"));
    assert_false(mf_token_valid("a>"));
}

static void test_fmt_double(void **state) {
    char buf[64];
    (void)state;
    mf_fmt_double(buf, sizeof(buf), 0.3);
    assert_string_equal(buf, "0.3");
    mf_fmt_double(buf, sizeof(buf), 100143.27730216153);
    assert_string_equal(buf, "100143.27730216153");
    mf_fmt_double(buf, sizeof(buf), 0.1 + 0.2);
    assert_string_equal(buf, "0.30000000000000004");
    for (int i = 0; i < 100000; i++) {
        double x = random_price(), y;
        assert_true(mf_fmt_double(buf, sizeof(buf), x) > 0);
        y = strtod(buf, NULL);
        assert_memory_equal(&x, &y, sizeof(x));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_captured_lines),          cmocka_unit_test(test_fixture_lines),
        cmocka_unit_test(test_optional_fields),         cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_bus_round_trip),          cmocka_unit_test(test_bus_rejects),
        cmocka_unit_test(test_msg_id_and_order),        cmocka_unit_test(test_fmt_double),
        cmocka_unit_test(test_encoders_against_printf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
