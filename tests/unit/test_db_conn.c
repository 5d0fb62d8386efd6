/* Unit tests of the connectors' pure parts: reconnect pacing (mf/db_conn.h: 250 ms doubling
 * to 2 s, +-20% jitter) and the folding of libpq messages into one line (mf/pg_conn.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "mf/db_conn.h"
#include "mf/pg_conn.h"

static void test_retry(void **state) {
    /* Undithered delays 250, 500, 1000, 2000, 2000: each within +-20% and never above the
     * cap. */
    static const int64_t nominal[] = {250, 500, 1000, 2000, 2000, 2000};
    mf_db_retry r = {0};
    int64_t now = 1000000;
    (void)state;
    assert_true(mf_db_retry_due(&r, now)); /* zero-initialised: connect now */
    for (size_t i = 0; i < sizeof(nominal) / sizeof(nominal[0]); i++) {
        int64_t d;
        mf_db_retry_failed(&r, now);
        d = r.retry_at - now;
        assert_true(d >= nominal[i] - nominal[i] / 5);
        assert_true(d <= nominal[i] + nominal[i] / 5 && d <= MF_DB_RETRY_CAP_MS);
        assert_false(mf_db_retry_due(&r, now));
        assert_false(mf_db_retry_due(&r, r.retry_at - 1));
        assert_true(mf_db_retry_due(&r, r.retry_at));
    }
    assert_int_equal(mf_db_retry_ok(&r), 6);
    assert_true(mf_db_retry_due(&r, now));
    assert_int_equal(mf_db_retry_ok(&r), 0);
}

static void test_error_line(void **state) {
    char out[64], tiny[6];
    (void)state;
    mf_pg_error_line("ERROR:  relation \"x\" does not exist\nLINE 1: SELECT\t*\n", out,
                     sizeof(out));
    assert_string_equal(out, "ERROR: relation 'x' does not exist LINE 1: SELECT *");
    mf_pg_error_line("abcdefgh", tiny, sizeof(tiny));
    assert_string_equal(tiny, "abcde");
    mf_pg_error_line("\n\n", out, sizeof(out));
    assert_string_equal(out, "");
    mf_pg_error_line(NULL, out, sizeof(out));
    assert_string_equal(out, "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry),
        cmocka_unit_test(test_error_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
