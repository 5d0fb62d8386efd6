/* Unit tests of the generator stream: PRNG, walk, line format, faults, fault spec. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gen_stream.h"
#include "mf/tick.h"

#define NOW 1795276404307LL

static char buf[GEN_STEP_MAX * 4];

/* Splits buf[0, n) into lines; returns how many, pointers in lines[], lengths in lens[]. */
static int split_lines(char *b, size_t n, const char **lines, size_t *lens, int max) {
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i < n && k < max; i++) {
        if (b[i] == '\n') {
            lines[k] = b + start;
            lens[k++] = i - start;
            start = i + 1;
        }
    }
    assert_int_equal(start, n); /* every line ends in '\n' */
    return k;
}

static void test_rng(void **state) {
    gen_rng a, b, c;
    (void)state;
    gen_rng_seed(&a, 1);
    gen_rng_seed(&b, 1);
    gen_rng_seed(&c, 2);
    for (int i = 0; i < 1000; i++) {
        uint64_t x = gen_rng_next(&a);
        assert_true(x == gen_rng_next(&b));
        assert_true(x != gen_rng_next(&c));
    }
    for (int i = 0; i < 100000; i++) {
        double u = gen_rng_uniform(&a);
        double z = gen_rng_normal(&a);
        assert_true(u >= 0.0 && u < 1.0);
        assert_true(isfinite(z));
    }
}

static void test_fault_spec(void **state) {
    gen_faults f;
    char err[256];
    (void)state;
    assert_int_equal(gen_faults_parse("", &f, err, sizeof(err)), MF_OK);
    assert_true(f.malformed == 0 && f.disconnect_every_s == 0);
    assert_int_equal(gen_faults_parse("none", &f, err, sizeof(err)), MF_OK);
    assert_int_equal(gen_faults_parse("malformed=0.01,duplicate=0.02,reorder=0.5,"
                                      "disconnect_every_s=5,pause_every_s=7,pause_ms=1500",
                                      &f, err, sizeof(err)),
                     MF_OK);
    assert_true(f.malformed == 0.01 && f.duplicate == 0.02 && f.reorder == 0.5);
    assert_int_equal(f.disconnect_every_s, 5);
    assert_int_equal(f.pause_every_s, 7);
    assert_int_equal(f.pause_ms, 1500);
    assert_int_equal(gen_faults_parse("pause_every_s=3", &f, err, sizeof(err)), MF_OK);
    assert_int_equal(f.pause_ms, 1000);
    static const char *bad[] = {"malformed=1.5",
                                "malformed=-0.1",
                                "malformed=abc",
                                "malformed",
                                "=1",
                                "bogus=1",
                                "disconnect_every_s=1.5",
                                "pause_every_s=1,pause_ms=2000",
                                "duplicate=",
                                "reorder=nan"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(gen_faults_parse(bad[i], &f, err, sizeof(err)), MF_ERR_CONFIG);
        assert_non_null(strstr(err, "generator.faults"));
        assert_null(strchr(err, '\n'));
    }
}

static void test_symbols(void **state) {
    gen_symbol s[GEN_MAX_SYMBOLS];
    int n;
    char err[256];
    (void)state;
    assert_int_equal(gen_symbols_parse("", s, &n, err, sizeof(err)), MF_OK);
    assert_int_equal(n, 5);
    assert_string_equal(s[0].name, "BTCUSDT");
    assert_true(s[0].start == 100000 && s[1].start == 0.3 && s[2].start == 3.9 &&
                s[3].start == 200 && s[4].start == 3050);
    assert_string_equal(s[4].name, "ETHUSDT");
    assert_int_equal(gen_symbols_parse("ETHUSDT,XRPUSDT:0.62", s, &n, err, sizeof(err)), MF_OK);
    assert_int_equal(n, 2);
    assert_true(s[0].start == 3050 && s[1].start == 0.62);
    static const char *bad[] = {"XRPUSDT",    "btcusdt",   "B", "BTCUSDT,BTCUSDT",
                                "BTCUSDT:-1", "BTCUSDT:x", ",", "AAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(gen_symbols_parse(bad[i], s, &n, err, sizeof(err)), MF_ERR_CONFIG);
}

/* The provided programs' lines (tests/fixtures/exchange-feed), rebuilt from their parsed values. */
static void test_matches_fixture_format(void **state) {
    static const char *fixture[] = {
        "{\"symbol\":\"BTCUSDT\",\"price\":99815.54088375505,\"timestamp\":1795276404307}",
        "{\"symbol\":\"DOGEUSDT\",\"price\":0.2987076250137248,\"timestamp\":1795276404307}",
        "{\"symbol\":\"TONUSDT\",\"price\":3.888895473752344,\"timestamp\":1795276404308}",
        "{\"symbol\":\"BTCUSDT\",\"price\":99943.5515338468,\"timestamp\":1795276404298}",
        "{\"symbol\":\"DOGEUSDT\",\"price\":0.30254118944878244,\"timestamp\":1795276404322}"};
    gen_symbol syms[GEN_MAX_SYMBOLS];
    int n;
    char err[128], line[256];
    (void)state;
    assert_int_equal(gen_symbols_parse("", syms, &n, err, sizeof(err)), MF_OK);
    for (size_t i = 0; i < sizeof(fixture) / sizeof(fixture[0]); i++) {
        mf_tick t;
        const gen_symbol *sym = NULL;
        size_t len;
        assert_int_equal(mf_feed_line_parse(fixture[i], strlen(fixture[i]), 0, 0, 0, &t),
                         MF_REJECT_NONE);
        for (int k = 0; k < n; k++)
            if (strcmp(syms[k].name, t.symbol) == 0) sym = &syms[k];
        assert_non_null(sym);
        len = gen_format_line(line, sym, t.price, t.ts, 0, 0, 0, 0);
        assert_int_equal(len, strlen(fixture[i]));
        assert_memory_equal(line, fixture[i], len);
    }
}

static void test_normal_lines(void **state) {
    static gen_stream s;
    char err[128];
    const char *lines[8];
    size_t lens[8];
    (void)state;
    assert_int_equal(gen_stream_init(&s, "", 7, 0, 0, NULL, err, sizeof(err)), MF_OK);
    for (int i = 0; i < 200000; i++) {
        int nl = 0;
        mf_tick t;
        int sym = i % s.nsym;
        size_t n = gen_stream_step(&s, NOW + i, buf, &nl);
        assert_int_equal(nl, 1);
        assert_int_equal(split_lines(buf, n, lines, lens, 8), 1);
        assert_int_equal(mf_feed_line_parse(lines[0], lens[0], NOW + i, 1000, 1000, &t),
                         MF_REJECT_NONE);
        assert_string_equal(t.symbol, s.sym[sym].name); /* round-robin symbol order */
        assert_true(memcmp(&t.price, &s.sym[sym].price, sizeof(double)) == 0); /* bit for bit */
        assert_true(t.price > 0);
        assert_true(t.ts == NOW + i);
        assert_false(t.has_qty || t.has_id || t.side != MF_SIDE_NONE);
        /* the walk stays near its start */
        assert_true(t.price > s.sym[sym].start * 0.2 && t.price < s.sym[sym].start * 5);
    }
}

static void test_extended_lines(void **state) {
    static gen_stream s;
    char err[128];
    const char *lines[8];
    size_t lens[8];
    int buys = 0;
    (void)state;
    assert_int_equal(gen_stream_init(&s, "BTCUSDT,DOGEUSDT", 9, 1, 1, NULL, err, sizeof(err)),
                     MF_OK);
    for (int i = 0; i < 20000; i++) {
        int nl = 0;
        mf_tick t;
        size_t n = gen_stream_step(&s, NOW, buf, &nl);
        assert_int_equal(split_lines(buf, n, lines, lens, 8), 1);
        assert_int_equal(mf_feed_line_parse(lines[0], lens[0], NOW, 1000, 1000, &t),
                         MF_REJECT_NONE);
        assert_true(t.has_qty && t.has_id && t.side != MF_SIDE_NONE);
        assert_true(t.qty > 0 && isfinite(t.qty));
        assert_int_equal(t.id, i + 1); /* strictly increasing from 1 */
        buys += t.side == MF_SIDE_BUY;
    }
    assert_true(buys > 9000 && buys < 11000);
}

static size_t run_stream(gen_stream *s, int steps, char *out, size_t cap) {
    size_t total = 0;
    for (int i = 0; i < steps; i++) {
        int nl = 0;
        size_t n = gen_stream_step(s, NOW + i, buf, &nl);
        assert_true(total + n <= cap);
        memcpy(out + total, buf, n);
        total += n;
    }
    return total;
}

static void test_seeded_streams_identical(void **state) {
    static gen_stream a, b, c;
    static char oa[8 << 20], ob[8 << 20], oc[8 << 20];
    gen_faults f = {.malformed = 0.05, .duplicate = 0.05, .reorder = 0.05};
    char err[128];
    size_t na, nb, nc;
    (void)state;
    assert_int_equal(gen_stream_init(&a, "", 123, 2, 1, &f, err, sizeof(err)), MF_OK);
    assert_int_equal(gen_stream_init(&b, "", 123, 2, 1, &f, err, sizeof(err)), MF_OK);
    assert_int_equal(gen_stream_init(&c, "", 123, 1, 1, &f, err, sizeof(err)), MF_OK);
    na = run_stream(&a, 20000, oa, sizeof(oa));
    nb = run_stream(&b, 20000, ob, sizeof(ob));
    nc = run_stream(&c, 20000, oc, sizeof(oc));
    assert_int_equal(na, nb);
    assert_memory_equal(oa, ob, na);
    assert_true(na != nc || memcmp(oa, oc, na) != 0); /* another feed walks on its own */
}

static void test_malformed_rejected(void **state) {
    gen_symbol syms[GEN_MAX_SYMBOLS];
    static char line[GEN_OVERLONG_LEN + 256];
    int n;
    char err[128];
    (void)state;
    assert_int_equal(gen_symbols_parse("", syms, &n, err, sizeof(err)), MF_OK);
    for (int kind = 0; kind < GEN_BAD_COUNT; kind++) {
        for (int k = 0; k < 60; k++) {
            mf_tick t;
            size_t len =
                gen_format_malformed(line, (gen_malformed)kind, &syms[k % n], NOW, k / 60.0);
            assert_true(len > 0);
            assert_null(memchr(line, '\n', len));
            if (kind == GEN_BAD_OVERLONG) {
                assert_true(len > 4096);
                continue;
            }
            if (mf_feed_line_parse(line, len, NOW, 1000, 1000, &t) == MF_REJECT_NONE) {
                print_error("kind %d accepted: %.*s\n", kind, (int)len, line);
                fail();
            }
        }
    }
}

static void test_fault_lines(void **state) {
    static gen_stream s;
    gen_faults f = {.malformed = 0.1, .duplicate = 0.1, .reorder = 0.1};
    char err[128];
    const char *lines[8];
    size_t lens[8];
    int64_t prev_ts = 0;
    (void)state;
    assert_int_equal(gen_stream_init(&s, "", 5, 0, 1, &f, err, sizeof(err)), MF_OK);
    for (int i = 0; i < 50000; i++) {
        int nl = 0, k, good = 0;
        size_t n = gen_stream_step(&s, NOW + i, buf, &nl);
        mf_tick t0, t;
        k = split_lines(buf, n, lines, lens, 8);
        assert_int_equal(k, nl);
        assert_int_equal(mf_feed_line_parse(lines[0], lens[0], 0, 0, 0, &t0), MF_REJECT_NONE);
        if (t0.ts != NOW + i) { /* reordered: a few hundred ms before the previous line */
            assert_true(t0.ts <= prev_ts - 100 && t0.ts >= prev_ts - 500);
        } else {
            prev_ts = t0.ts;
        }
        for (int j = 1; j < k; j++) {
            int is_dup = lens[j] == lens[0] && memcmp(lines[j], lines[0], lens[0]) == 0;
            if (is_dup) {
                assert_int_equal(j, 1);
                continue;
            }
            /* the malformed line comes last and is rejected or overlong */
            assert_int_equal(j, k - 1);
            assert_true(lens[j] > 4096 || mf_feed_line_parse(lines[j], lens[j], NOW + i, 1000, 1000,
                                                             &t) != MF_REJECT_NONE);
            good++;
        }
        (void)good;
    }
    assert_true(s.stats.malformed > 4000 && s.stats.malformed < 6000);
    assert_true(s.stats.duplicates > 4000 && s.stats.duplicates < 6000);
    assert_true(s.stats.reordered > 4000 && s.stats.reordered < 6000);
    assert_int_equal(s.stats.steps, 50000);
    assert_int_equal(s.next_id, 50001);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_fault_spec),
        cmocka_unit_test(test_symbols),
        cmocka_unit_test(test_matches_fixture_format),
        cmocka_unit_test(test_normal_lines),
        cmocka_unit_test(test_extended_lines),
        cmocka_unit_test(test_seeded_streams_identical),
        cmocka_unit_test(test_malformed_rejected),
        cmocka_unit_test(test_fault_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
