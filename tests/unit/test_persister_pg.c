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
#include "pg_sink.h"

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

static void test_copy_row(void **state) {
    mf_rollup r;
    char buf[8192];
    char *f[20];
    int nf = 0;
    (void)state;
    mf_rollup_init(&r, "exchange1", "BTCUSDT", MF_WIN_1S, 1742457126000LL);
    snprintf(r.producer, sizeof(r.producer), "agg\t1");
    r.seq = 42;
    r.count = 2;
    mf_xsum_add(&r.sum, 0.1);
    mf_xsum_add(&r.sum, 0.2);
    r.min = 0.1, r.min_ts = 1742457126001LL;
    r.max = 0.2, r.max_ts = 1742457126002LL;
    r.open = 0.1, r.open_ts = 1742457126001LL, r.open_id = -1;
    r.close = 0.2, r.close_ts = 1742457126002LL, r.close_id = 9;
    mf_xsum_add(&r.volume, 1.5);
    assert_true(pers_pg_copy_row(&r, buf, sizeof(buf)) > 0);
    assert_int_equal(buf[strlen(buf) - 1], '\n');
    buf[strlen(buf) - 1] = '\0';
    for (char *p = strtok(buf, "\t"); p && nf < 20; p = strtok(NULL, "\t")) f[nf++] = p;
    assert_int_equal(nf, 19);
    assert_string_equal(f[0], "agg\\t1");
    assert_string_equal(f[1], "42");
    assert_string_equal(f[4], "2025-03-20 07:52:00.000+00"); /* the minute */
    assert_string_equal(f[5], "2");
    /* The exact decimal value of the two doubles 0.1 and 0.2, not 0.3. */
    assert_string_equal(f[6], "0.3000000000000000166533453693773481063544750213623046875");
    assert_string_equal(f[13], "-1");
    assert_string_equal(f[16], "9");
    assert_string_equal(f[17], "1.5");
    assert_string_equal(f[18], "0");
    assert_int_equal(pers_pg_copy_row(&r, buf, 16), -1);
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
        cmocka_unit_test(test_copy_row),       cmocka_unit_test(test_migration_names),
        cmocka_unit_test(test_migration_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
