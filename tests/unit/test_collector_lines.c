/* Unit tests of the collector's line framing (services/collector/lines.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lines.h"

typedef struct rec {
    char lines[64][256];
    int n;
    int too_long;
} rec;

static void on_line(void *ctx, const char *line, size_t len) {
    rec *r = ctx;
    assert_true(len < sizeof(r->lines[0]));
    memcpy(r->lines[r->n], line, len);
    r->lines[r->n][len] = '\0';
    r->n++;
}

static void on_too_long(void *ctx) {
    ((rec *)ctx)->too_long++;
}

static const coll_lines_cb cb = {on_line, on_too_long};

static void feed_str(coll_lines *lb, rec *r, const char *s) {
    coll_lines_feed(lb, s, strlen(s), &cb, r);
}

static void test_split_reads(void **state) {
    coll_lines lb;
    rec r = {0};
    (void)state;
    coll_lines_init(&lb, 100);
    feed_str(&lb, &r, "{\"a\":1}\n{\"b\"");
    assert_int_equal(r.n, 1);
    feed_str(&lb, &r, ":2}");
    assert_int_equal(r.n, 1);
    feed_str(&lb, &r, "\r\n\n\r\nxyz\n");
    assert_int_equal(r.n, 3);
    assert_string_equal(r.lines[0], "{\"a\":1}");
    assert_string_equal(r.lines[1], "{\"b\":2}");
    assert_string_equal(r.lines[2], "xyz");
    assert_int_equal(r.too_long, 0);
    coll_lines_cleanup(&lb);
}

static void test_byte_by_byte(void **state) {
    coll_lines lb;
    rec r = {0};
    const char *s = "abc\r\ndef\nghi\n";
    (void)state;
    coll_lines_init(&lb, 100);
    for (size_t i = 0; i < strlen(s); i++) coll_lines_feed(&lb, s + i, 1, &cb, &r);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.lines[0], "abc");
    assert_string_equal(r.lines[1], "def");
    assert_string_equal(r.lines[2], "ghi");
    coll_lines_cleanup(&lb);
}

static void test_exact_limit(void **state) {
    coll_lines lb;
    rec r = {0};
    char line[32];
    (void)state;
    coll_lines_init(&lb, 10);
    memset(line, 'x', 10);
    memcpy(line + 10, "\r\n", 3);
    feed_str(&lb, &r, line); /* 10 bytes + CRLF: accepted */
    assert_int_equal(r.n, 1);
    memset(line, 'y', 11);
    memcpy(line + 11, "\n", 2);
    feed_str(&lb, &r, line); /* 11 bytes: too long (complete in one read) */
    assert_int_equal(r.n, 1);
    assert_int_equal(r.too_long, 1);
    feed_str(&lb, &r, "ok\n");
    assert_int_equal(r.n, 2);
    assert_string_equal(r.lines[1], "ok");
    coll_lines_cleanup(&lb);
}

/* A 1 MiB line arriving in pieces is skipped without being buffered, once. */
static void test_huge_line_skipped(void **state) {
    coll_lines lb;
    rec r = {0};
    size_t big = 1 << 20;
    char *buf = malloc(big);
    (void)state;
    memset(buf, 'z', big);
    coll_lines_init(&lb, 4096);
    feed_str(&lb, &r, "first\n");
    for (size_t off = 0; off < big; off += 1000)
        coll_lines_feed(&lb, buf + off, big - off < 1000 ? big - off : 1000, &cb, &r);
    assert_true(lb.len <= 4097);
    assert_int_equal(r.too_long, 1);
    feed_str(&lb, &r, "zz\nsecond\n");
    assert_int_equal(r.n, 2);
    assert_string_equal(r.lines[0], "first");
    assert_string_equal(r.lines[1], "second");
    assert_int_equal(r.too_long, 1);
    /* In one big write, too. */
    coll_lines_feed(&lb, buf, big, &cb, &r);
    feed_str(&lb, &r, "\nthird\n");
    assert_int_equal(r.too_long, 2);
    assert_string_equal(r.lines[2], "third");
    free(buf);
    coll_lines_cleanup(&lb);
}

static void test_reset(void **state) {
    coll_lines lb;
    rec r = {0};
    (void)state;
    coll_lines_init(&lb, 100);
    feed_str(&lb, &r, "partial-from-old-connection");
    coll_lines_reset(&lb);
    feed_str(&lb, &r, "new\n");
    assert_int_equal(r.n, 1);
    assert_string_equal(r.lines[0], "new");
    coll_lines_cleanup(&lb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_reads), cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_exact_limit), cmocka_unit_test(test_huge_line_skipped),
        cmocka_unit_test(test_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
