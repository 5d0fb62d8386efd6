/* Unit tests of the collector's mode precedence (services/collector/control.c): the default
 * until something is known, the stored mode only until a live message came, every live
 * message wins, and take() reports each change once. Payload rules are mf/control.h's
 * (tests/unit/test_control.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "control.h"

static void test_default_first(void **state) {
    coll__mode_state st;
    mf_mode m = MF_MODE_LIVE;
    (void)state;
    coll__mode_init(&st, MF_MODE_TEST);
    assert_int_equal(coll__mode_take(&st, &m), 1); /* the first take always reports */
    assert_int_equal(m, MF_MODE_TEST);
    assert_string_equal(st.source, "default");
    assert_int_equal(coll__mode_take(&st, &m), 0);
}

static void test_stored_then_live(void **state) {
    coll__mode_state st;
    mf_mode m;
    (void)state;
    coll__mode_init(&st, MF_MODE_TEST);
    coll__mode_take(&st, &m);
    coll__mode_offer(&st, MF_MODE_LIVE, "stream", 0);
    assert_int_equal(coll__mode_take(&st, &m), 1);
    assert_int_equal(m, MF_MODE_LIVE);
    assert_string_equal(st.source, "stream");
    coll__mode_offer(&st, MF_MODE_TEST, "bus", 1);
    assert_int_equal(coll__mode_take(&st, &m), 1);
    assert_int_equal(m, MF_MODE_TEST);
    assert_string_equal(st.source, "bus");
}

/* A stored mode read after a live message (the subscription starts first) is ignored. */
static void test_live_beats_late_stored(void **state) {
    coll__mode_state st;
    mf_mode m;
    (void)state;
    coll__mode_init(&st, MF_MODE_TEST);
    coll__mode_offer(&st, MF_MODE_LIVE, "bus", 1);
    coll__mode_offer(&st, MF_MODE_TEST, "stream", 0);
    assert_int_equal(coll__mode_take(&st, &m), 1);
    assert_int_equal(m, MF_MODE_LIVE);
    assert_string_equal(st.source, "bus");
}

/* The same mode again is not a change; two switches between takes report the last. */
static void test_changes(void **state) {
    coll__mode_state st;
    mf_mode m;
    (void)state;
    coll__mode_init(&st, MF_MODE_TEST);
    coll__mode_take(&st, &m);
    coll__mode_offer(&st, MF_MODE_TEST, "bus", 1);
    assert_int_equal(coll__mode_take(&st, &m), 0);
    coll__mode_offer(&st, MF_MODE_LIVE, "bus", 1);
    coll__mode_offer(&st, MF_MODE_TEST, "bus", 1);
    assert_int_equal(coll__mode_take(&st, &m), 1);
    assert_int_equal(m, MF_MODE_TEST);
    assert_int_equal(coll__mode_take(&st, &m), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_first),
        cmocka_unit_test(test_stored_then_live),
        cmocka_unit_test(test_live_beats_late_stored),
        cmocka_unit_test(test_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
