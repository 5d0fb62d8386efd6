/* test_persister_batch: payload validation, in-batch dedupe, consumer names, Redis sum text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch.h"
#include "core.h"
#include "sink_redis.h"

static const char *ROLLUP =
    "{\"exchange\":\"exchange1\",\"symbol\":\"BTCUSDT\",\"window\":\"1s\",\"start\":1000,"
    "\"count\":2,\"sum\":3.5,\"sum_x\":[1.5,2.0],\"min\":1.5,\"min_ts\":1001,\"max\":2.0,"
    "\"max_ts\":1002,\"open\":1.5,\"open_ts\":1001,\"close\":2.0,\"close_ts\":1002,"
    "\"producer\":\"agg-a\",\"seq\":7}";

static void test_parse_valid(void **state) {
    mf_rollup r;
    (void)state;
    assert_int_equal(pers_parse(ROLLUP, strlen(ROLLUP), &r), PERS_OK);
    assert_string_equal(r.producer, "agg-a");
    assert_int_equal(r.seq, 7);
    assert_int_equal(r.st.count, 2);
    assert_true(mf_xsum_value(&r.st.sum) == 3.5);
}

static void test_parse_rejects(void **state) {
    mf_rollup r;
    const char *w1m = "{\"exchange\":\"e\",\"symbol\":\"S\",\"window\":\"1m\",\"start\":0,"
                      "\"count\":1,\"sum\":1,\"min\":1,\"min_ts\":0,\"max\":1,\"max_ts\":0,"
                      "\"open\":1,\"open_ts\":0,\"close\":1,\"close_ts\":0,\"producer\":\"p\","
                      "\"seq\":1}";
    const char *noprod = "{\"exchange\":\"e\",\"symbol\":\"S\",\"window\":\"1s\",\"start\":0,"
                         "\"count\":1,\"sum\":1,\"min\":1,\"min_ts\":0,\"max\":1,\"max_ts\":0,"
                         "\"open\":1,\"open_ts\":0,\"close\":1,\"close_ts\":0,\"seq\":1}";
    const char *empty = "{\"exchange\":\"e\",\"symbol\":\"S\",\"window\":\"1s\",\"start\":0,"
                        "\"count\":0,\"sum\":0,\"producer\":\"p\",\"seq\":2}";
    (void)state;
    assert_int_equal(pers_parse("{nope", 5, &r), PERS_REJECT_JSON);
    assert_int_equal(pers_parse("", 0, &r), PERS_REJECT_JSON);
    assert_int_equal(pers_parse(NULL, 0, &r), PERS_REJECT_JSON);
    assert_int_equal(pers_parse(w1m, strlen(w1m), &r), PERS_REJECT_WINDOW);
    assert_int_equal(pers_parse(noprod, strlen(noprod), &r), PERS_REJECT_PRODUCER);
    assert_int_equal(pers_parse(empty, strlen(empty), &r), PERS_REJECT_EMPTY);
    assert_string_equal(pers_reject_str(PERS_REJECT_WINDOW), "window");
    assert_string_equal(pers_reject_str((pers_reject)99), "unknown");
}

static void test_dedupe(void **state) {
    mf_rollup in[6], out[6];
    const char *prod[] = {"b", "a", "b", "a", "c", "a"};
    const uint64_t seq[] = {1, 2, 1, 1, 1, 2};
    (void)state;
    for (int i = 0; i < 6; i++) {
        mf_rollup_init(&in[i], "e", "S", MF_WIN_1S, 0);
        snprintf(in[i].producer, sizeof(in[i].producer), "%s", prod[i]);
        in[i].seq = seq[i];
        in[i].st.count = i + 1;
    }
    assert_int_equal(pers_dedupe(in, 6, out), 4);
    assert_string_equal(out[0].producer, "a");
    assert_int_equal(out[0].seq, 1);
    assert_string_equal(out[1].producer, "a");
    assert_int_equal(out[1].seq, 2);
    assert_int_equal(out[1].st.count, 2); /* the first occurrence is kept */
    assert_string_equal(out[2].producer, "b");
    assert_string_equal(out[3].producer, "c");
    assert_int_equal(pers_dedupe(in, 0, out), 0);
}

static void test_durable_name(void **state) {
    char buf[64];
    (void)state;
    assert_int_equal(pers_durable_name("marketflow", "postgres", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "marketflow-persister-postgres");
    assert_int_equal(pers_durable_name("a.b*c", "redis", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "a_b_c-persister-redis");
    assert_int_equal(pers_durable_name("marketflow", "postgres", buf, 8), -1);
}

static void test_redis_xsum_str(void **state) {
    mf_xsum s;
    char buf[256];
    (void)state;
    mf_xsum_init(&s);
    assert_int_equal(pers_redis_xsum_str(&s, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    mf_xsum_add(&s, 0.1);
    mf_xsum_add(&s, 0.2);
    assert_true(pers_redis_xsum_str(&s, buf, sizeof(buf)) > 0);
    /* Exact: 0.1 + 0.2 is not a double, so the expansion keeps two parts, smallest first. */
    assert_string_equal(buf, "-2.7755575615628914e-17,0.30000000000000004");
    assert_int_equal(pers_redis_xsum_str(&s, buf, 8), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),    cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_dedupe),         cmocka_unit_test(test_durable_name),
        cmocka_unit_test(test_redis_xsum_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
