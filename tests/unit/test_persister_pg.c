/* test_persister_pg: COPY row formatting and migration file discovery (no database). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "migrate.h"
#include "sink_pg.h"

static void test_escape(void **state) {
    char buf[64];
    (void)state;
    assert_int_equal(pers_pg_copy_escape("agg-1", buf, sizeof(buf)), 5);
    assert_string_equal(buf, "agg-1");
    assert_true(pers_pg_copy_escape("a\tb\\c\nd\re", buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "a\\tb\\\\c\\nd\\re");
    assert_int_equal(pers_pg_copy_escape("abcdef", buf, 4), -1);
}

static void test_timestamp(void **state) {
    char buf[64];
    (void)state;
    assert_true(pers_pg_timestamp(0, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "1970-01-01 00:00:00.000+00");
    assert_true(pers_pg_timestamp(1742457120000LL, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "2025-03-20 07:52:00.000+00");
    assert_true(pers_pg_timestamp(-1, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "1969-12-31 23:59:59.999+00");
}

static void fill(mf_rollup *r, const char *producer, uint64_t seq, int64_t start) {
    mf_rollup_init(r, "exchange1", "BTCUSDT", MF_WIN_1S, start);
    snprintf(r->producer, sizeof(r->producer), "%s", producer);
    r->seq = seq;
}

static void add(mf_rollup *r, double price, int64_t ts, int64_t id) {
    mf_tick t = {0};
    t.price = price;
    t.ts = ts;
    t.has_id = id >= 0;
    t.id = id;
    t.qty = 1.5;
    t.has_qty = 1;
    mf_rollup_add(r, &t);
}

static int split(char *line, char **f, int max) {
    int nf = 0;
    line[strlen(line) - 1] = '\0'; /* the newline */
    for (char *p = strtok(line, "\t"); p && nf < max; p = strtok(NULL, "\t")) f[nf++] = p;
    return nf;
}

static void test_ledger_row(void **state) {
    mf_rollup r;
    char buf[512];
    char *f[8];
    (void)state;
    fill(&r, "agg\t1", 42, 1742457126000LL);
    assert_true(pers_pg_ledger_row(&r, buf, sizeof(buf)) > 0);
    assert_int_equal(split(buf, f, 8), 3);
    assert_string_equal(f[0], "agg\\t1");
    assert_string_equal(f[1], "42");
    assert_string_equal(f[2], "2025-03-20 07:52:00.000+00"); /* the minute */
    assert_int_equal(pers_pg_ledger_row(&r, buf, 8), -1);
}

static void test_minute_row(void **state) {
    mf_rollup r;
    char buf[8192];
    char *f[20];
    (void)state;
    fill(&r, "a", 1, 1742457126000LL);
    add(&r, 0.1, 1742457126001LL, -1);
    add(&r, 0.2, 1742457126002LL, 9);
    assert_true(pers_pg_minute_row(&r, buf, sizeof(buf)) > 0);
    assert_int_equal(split(buf, f, 20), 17);
    assert_string_equal(f[0], "exchange1");
    assert_string_equal(f[1], "BTCUSDT");
    assert_string_equal(f[2], "2025-03-20 07:52:00.000+00");
    assert_string_equal(f[3], "2");
    /* The exact decimal value of the two doubles 0.1 and 0.2, not 0.3. */
    assert_string_equal(f[4], "0.3000000000000000166533453693773481063544750213623046875");
    assert_string_equal(f[11], "-1"); /* open_id: the open tick had no id */
    assert_string_equal(f[14], "9");
    assert_string_equal(f[15], "3");
    assert_int_equal(pers_pg_minute_row(&r, buf, 16), -1);
}

/* Partials of two minutes, only some fresh: the merge equals the rollup of their ticks. */
static void test_premerge(void **state) {
    mf_rollup in[4], out[4], want;
    unsigned char fresh[4] = {1, 1, 0, 1};
    const int64_t m0 = 1742457120000LL;
    (void)state;
    fill(&in[0], "a", 1, m0 + 1000);
    add(&in[0], 5.0, m0 + 1100, 1);
    fill(&in[1], "b", 1, m0 + 2000);
    add(&in[1], 4.0, m0 + 2100, 2);
    add(&in[1], 5.0, m0 + 2200, 3);
    fill(&in[2], "b", 2, m0 + 3000); /* already applied: must not count */
    add(&in[2], 1.0, m0 + 3100, 4);
    fill(&in[3], "a", 2, m0 + 61000); /* the next minute */
    add(&in[3], 7.0, m0 + 61100, 5);
    assert_int_equal(pers_pg_premerge(in, fresh, 4, out), 2);
    mf_rollup_init(&want, "exchange1", "BTCUSDT", MF_WIN_1M, m0);
    add(&want, 5.0, m0 + 1100, 1);
    add(&want, 4.0, m0 + 2100, 2);
    add(&want, 5.0, m0 + 2200, 3);
    assert_true(mf_rollup_same(&out[0], &want));
    assert_int_equal(out[0].st.max_ts, m0 + 1100); /* tie on 5.0: the earlier tick */
    assert_int_equal(out[1].start, m0 + 60000);
    assert_int_equal(out[1].st.count, 1);
    assert_int_equal(pers_pg_premerge(in, NULL, 4, out), 2);
    assert_int_equal(out[0].st.count, 4);
}

static void test_migration_names(void **state) {
    int v;
    char name[64];
    (void)state;
    assert_int_equal(pers_migration_parse_name("001_init.sql", &v, name, sizeof(name)), 0);
    assert_int_equal(v, 1);
    assert_string_equal(name, "001_init");
    assert_int_equal(pers_migration_parse_name("12_add-index.sql", &v, name, sizeof(name)), 0);
    assert_int_equal(v, 12);
    assert_int_equal(pers_migration_parse_name("init.sql", &v, name, sizeof(name)), -1);
    assert_int_equal(pers_migration_parse_name("001_.sql", &v, name, sizeof(name)), -1);
    assert_int_equal(pers_migration_parse_name("001_x.sql~", &v, name, sizeof(name)), -1);
    assert_int_equal(pers_migration_parse_name("001_a b.sql", &v, name, sizeof(name)), -1);
}

static void touch(const char *dir, const char *file) {
    char path[512];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("SELECT 1;\n", f);
    fclose(f);
}

static void test_migration_list(void **state) {
    char dir[] = "/tmp/test_persister_pg.XXXXXX";
    pers_migration list[8];
    int n = -1;
    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(pers_migrations_list(dir, list, 8, &n), MF_ERR_CONFIG); /* none */
    touch(dir, "010_later.sql");
    touch(dir, "002_second.sql");
    touch(dir, "README.md");
    assert_int_equal(pers_migrations_list(dir, list, 8, &n), MF_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].version, 2);
    assert_int_equal(list[1].version, 10);
    assert_string_equal(list[1].name, "010_later");
    touch(dir, "2_dup.sql");
    assert_int_equal(pers_migrations_list(dir, list, 8, &n), MF_ERR_CONFIG);
    assert_int_equal(pers_migrations_list("/nonexistent/dir", list, 8, &n), MF_ERR_CONFIG);
    {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),         cmocka_unit_test(test_timestamp),
        cmocka_unit_test(test_ledger_row),     cmocka_unit_test(test_minute_row),
        cmocka_unit_test(test_premerge),       cmocka_unit_test(test_migration_names),
        cmocka_unit_test(test_migration_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
