/* test_aggregator_acks.c: compact ack subjects come back byte for byte, whatever their shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "acks.h"

#define N 2000

static void check_round_trip(agg_ackheads *h, char (*subj)[AGG_ACK_MAX], int n) {
    agg_acks a = {0};
    char buf[AGG_ACK_MAX];
    size_t pos = 0;
    for (int i = 0; i < n; i++) agg_acks_add(&a, h, subj[i]);
    assert_int_equal(a.n, n);
    for (int i = 0; i < n; i++) {
        const char *s = agg_acks_next(&a, h, &pos, buf);
        assert_non_null(s);
        assert_string_equal(s, subj[i]);
    }
    assert_null(agg_acks_next(&a, h, &pos, buf));
    agg_acks_free(&a);
}

static char subjects[N][AGG_ACK_MAX];

/* The 9-token form nats-server 2.9 sends: compact (about 20 B each), exact. */
static void test_jetstream_form(void **state) {
    agg_ackheads *h = agg_ackheads_create();
    agg_acks a = {0};
    (void)state;
    for (int i = 0; i < N; i++)
        snprintf(subjects[i], AGG_ACK_MAX,
                 "$JS.ACK.MARKETFLOW_TICKS.marketflow-aggregator.%d.%llu.%llu.%llu.%d", 1 + i % 3,
                 123456789ULL + (unsigned long long)i * 7919, 99ULL + (unsigned long long)i,
                 1763745000123456789ULL + (unsigned long long)i * 1000003, i % 1000);
    check_round_trip(h, subjects, N);
    for (int i = 0; i < N; i++) agg_acks_add(&a, h, subjects[i]);
    assert_true(a.len < (uint32_t)N * 24); /* vs ~90 B verbatim */
    agg_acks_free(&a);
    agg_ackheads_destroy(h);
}

/* Other shapes are kept verbatim: a trailing token, leading zeros, too few tokens, no heads
 * table, many heads. */
static void test_other_forms(void **state) {
    agg_ackheads *h = agg_ackheads_create();
    int n = 0;
    (void)state;
    snprintf(subjects[n++], AGG_ACK_MAX, "$JS.ACK.dom.acc.S.C.1.2.3.4.5.r4nd0m");
    snprintf(subjects[n++], AGG_ACK_MAX, "$JS.ACK.S.C.1.02.3.4.5");
    snprintf(subjects[n++], AGG_ACK_MAX, "$JS.ACK.S.C.1.2.3.4.99999999999999999999");
    snprintf(subjects[n++], AGG_ACK_MAX, "$JS.ACK.1.2.3.4.5");
    snprintf(subjects[n++], AGG_ACK_MAX, "$JS.ACK.x.17");
    snprintf(subjects[n++], AGG_ACK_MAX, "_INBOX.abc.1.2.3.4.5");
    snprintf(subjects[n++], AGG_ACK_MAX, "$JS.ACK.S.C.0.0.0.0.0");
    snprintf(subjects[n++], AGG_ACK_MAX, "$JS.ACK.S.C.1..3.4.5");
    for (int i = 0; i < 600; i++) /* more heads than the table holds */
        snprintf(subjects[n++], AGG_ACK_MAX, "$JS.ACK.S%d.C.1.%d.3.4.5", i, i);
    check_round_trip(h, subjects, n);
    check_round_trip(NULL, subjects, n);
    agg_ackheads_destroy(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jetstream_form),
        cmocka_unit_test(test_other_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
