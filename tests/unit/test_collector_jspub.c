/* Unit tests of the collector's JetStream pipeline helpers (services/collector/jspub.c) that
 * need no NATS: the Msg-Id built from the bus JSON must equal mf_tick_msg_id exactly (a
 * different id would defeat the stream's dedupe between collectors and retries). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jspub.h"

static void check(const mf_tick *t) {
    char json[512], want[192], got[192];
    int len = mf_tick_to_json(t, json, sizeof(json));
    int wn = mf_tick_msg_id(t, want, sizeof(want));
    int gn;
    assert_true(len > 0 && wn > 0);
    gn = coll__msg_id_from_json(t, json, len, got, sizeof(got));
    assert_int_equal(gn, wn);
    assert_string_equal(got, want);
}

static void base(mf_tick *t, double price) {
    memset(t, 0, sizeof(*t));
    strcpy(t->exchange, "exchange1");
    strcpy(t->symbol, "BTCUSDT");
    t->price = price;
    t->ts = 1700000000123;
    t->recv_ts = 1700000000125;
}

static void test_msg_id_fixed(void **state) {
    static const double prices[] = {1,         0.1,     100143.27730216153, 0.30254118944878244,
                                    1e-7,      1e22,    123456789.12345679, DBL_MIN,
                                    DBL_MAX,   5e-324,  1000.000001,        2.5e-300,
                                    0.1 + 0.2, 1.0 / 3, 9007199254740993.0};
    mf_tick t;
    (void)state;
    for (size_t i = 0; i < sizeof(prices) / sizeof(prices[0]); i++) {
        base(&t, prices[i]);
        check(&t);
        t.has_qty = 1;
        t.qty = 2.5;
        t.side = MF_SIDE_BUY;
        check(&t);
        t.has_id = 1;
        t.id = -42;
        check(&t);
        t.has_id = 0;
        t.ts = -(int64_t)i * 999;
        check(&t);
        t.ts = INT64_MIN + (int64_t)i;
        check(&t);
    }
}

static void test_msg_id_random(void **state) {
    mf_tick t;
    (void)state;
    srand(7);
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = ((uint64_t)rand() << 40) ^ ((uint64_t)rand() << 20) ^ (uint64_t)rand();
        double x;
        bits &= ~(1ULL << 63); /* positive */
        memcpy(&x, &bits, sizeof(x));
        if (!isfinite(x) || x <= 0) continue;
        base(&t, i % 2 ? x : (double)(rand() % 10000000) / 1000.0 + 0.001);
        t.has_qty = i % 3 == 0;
        t.qty = x;
        check(&t);
    }
}

static void test_msg_id_too_small(void **state) {
    mf_tick t;
    char json[512], id[8];
    int len;
    (void)state;
    base(&t, 1.5);
    len = mf_tick_to_json(&t, json, sizeof(json));
    assert_int_equal(coll__msg_id_from_json(&t, json, len, id, sizeof(id)), -1);
    /* Exactly the room needed, and one byte less. */
    {
        char want[192], exact[192];
        int wn = mf_tick_msg_id(&t, want, sizeof(want));
        assert_int_equal(coll__msg_id_from_json(&t, json, len, exact, (size_t)wn + 1), wn);
        assert_string_equal(exact, want);
        assert_int_equal(coll__msg_id_from_json(&t, json, len, exact, (size_t)wn), -1);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msg_id_fixed),
        cmocka_unit_test(test_msg_id_random),
        cmocka_unit_test(test_msg_id_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
