/* Unit tests of the collector core (services/collector/collector.c) with an in-memory feed
 * adapter behind the feed port and a recording sink: no sockets, no NATS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "mf/log.h"
#include "mf/util.h"

/* ---- in-memory feed: sessions[port][k] is what the k-th connection to port reads ---------- */

#define MAX_PORTS 8
#define MAX_SESSIONS 4

typedef struct mem_session {
    const char *data;
    int close_at_end; /* else the connection stays open and idle */
} mem_session;

static mem_session sessions[MAX_PORTS][MAX_SESSIONS];
static int nsessions[MAX_PORTS];
static int connects[MAX_PORTS];
static pthread_mutex_t mem_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct mem_conn {
    const mem_session *s;
    size_t off;
} mem_conn;

static mf_status mem_connect(void **conn, const mf_endpoint *ep, int timeout_ms) {
    int k;
    (void)timeout_ms;
    pthread_mutex_lock(&mem_mu);
    k = connects[ep->port]++;
    pthread_mutex_unlock(&mem_mu);
    if (k >= nsessions[ep->port]) return MF_ERR_IO;
    mem_conn *c = mf_xcalloc(1, sizeof(*c));
    c->s = &sessions[ep->port][k];
    *conn = c;
    return MF_OK;
}

static mf_status mem_read(void *conn, char *buf, size_t cap, size_t *n, int timeout_ms) {
    mem_conn *c = conn;
    size_t left = strlen(c->s->data) - c->off;
    size_t k = 7 + c->off % 13; /* odd read sizes: lines arrive split */
    if (left == 0) {
        if (c->s->close_at_end) return MF_ERR_CLOSED;
        mf_sleep_ms(timeout_ms < 10 ? timeout_ms : 10);
        return MF_ERR_TIMEOUT;
    }
    if (k > left) k = left;
    if (k > cap) k = cap;
    memcpy(buf, c->s->data + c->off, k);
    c->off += k;
    *n = k;
    return MF_OK;
}

static void mem_close(void *conn) {
    free(conn);
}

/* The line adapter over the memory stream: framing and decoding are the production ones. */
static const coll_stream_ops mem_stream = {mem_connect, mem_read, mem_close};
static coll_feed_ops mem_ops;

static mf_status
mem_open(coll_feed_conn **out, const mf_endpoint *ep, const coll_feed_opts *opts, int timeout_ms) {
    return coll_feed_line_open_on(out, &mem_ops, &mem_stream, ep, opts, timeout_ms);
}

/* ---- recording sink ----------------------------------------------------------------------- */

#define MAX_TICKS 4096
static mf_tick got[MAX_TICKS];
static int ngot;
static pthread_mutex_t sink_mu = PTHREAD_MUTEX_INITIALIZER;

static mf_status rec_publish(void *ctx, const mf_tick *t) {
    (void)ctx;
    pthread_mutex_lock(&sink_mu);
    if (ngot < MAX_TICKS) got[ngot++] = *t;
    pthread_mutex_unlock(&sink_mu);
    return MF_OK;
}

/* The batch form (publish_many): records, or drops everything when `drop_all`. */
static int drop_all;
static size_t batch_calls;

static size_t rec_publish_many(void *ctx, const mf_tick *t, size_t n) {
    assert_true(n >= 1 && n <= COLL_SINK_BATCH);
    pthread_mutex_lock(&sink_mu);
    batch_calls++;
    pthread_mutex_unlock(&sink_mu);
    if (drop_all) return n;
    for (size_t i = 0; i < n; i++) rec_publish(ctx, &t[i]);
    return 0;
}

static int setup(void **state) {
    (void)state;
    mem_ops = coll_feed_line;
    mem_ops.kind = "mem";
    mem_ops.open = mem_open;
    memset(sessions, 0, sizeof(sessions));
    memset(nsessions, 0, sizeof(nsessions));
    memset(connects, 0, sizeof(connects));
    ngot = 0;
    drop_all = 0;
    batch_calls = 0;
    mf_log_min_level = MF_LOG_ERROR;
    return 0;
}

static void make_config(mf_config *cfg, int workers) {
    mf_config_defaults(cfg);
    snprintf(cfg->exchanges.test, sizeof(cfg->exchanges.test), "exA=127.0.0.1:1,exB=127.0.0.1:2");
    snprintf(cfg->exchanges.live, sizeof(cfg->exchanges.live), "live1=127.0.0.1:3");
    cfg->collector.workers_per_feed = workers;
    cfg->collector.max_line = 200;
}

/* Waits until `cond` over the totals holds, up to 5 s. */
#define WAIT_TOTALS(c, t, cond)                        \
    do {                                               \
        int64_t end__ = mf_mono_ms() + 5000;           \
        for (;;) {                                     \
            coll_totals_get((c), &(t));                \
            if ((cond) || mf_mono_ms() > end__) break; \
            mf_sleep_ms(5);                            \
        }                                              \
    } while (0)

static char script_a[8192];

static long long reject_sum(const coll_totals *t) {
    long long n = 0;
    for (int r = 1; r < MF_REJECT_COUNT; r++) n += t->rejected[r];
    return n;
}

static void test_lines_to_ticks(void **state) {
    mf_config cfg;
    collector *c = NULL;
    coll_totals t;
    coll_sink sink = {rec_publish, NULL, NULL};
    long long now = mf_now_ms();
    char big[400];
    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(script_a, sizeof(script_a),
             "{\"symbol\":\"BTCUSDT\",\"price\":100143.27730216153,\"timestamp\":%lld}\r\n"
             "garbage\n"
             "{\"symbol\":\"ETHUSDT\",\"price\":NaN,\"timestamp\":%lld}\n"
             "{\"symbol\":\"ETHUSDT\",\"price\":-1.5,\"timestamp\":%lld}\n"
             "{\"symbol\":\"ETHUSDT\",\"price\":0,\"timestamp\":%lld}\n"
             "{\"symbol\":\"eth/usdt\",\"price\":1,\"timestamp\":%lld}\n"
             "{\"symbol\":\"ETHUSDT\",\"price\":1}\n"
             "{\"symbol\":\"ETHUSDT\",\"price\":1,\"timestamp\":1000}\n"
             "%s\n"
             "{\"symbol\":\"DOGEUSDT\",\"price\":0.30254118944878244,\"timestamp\":%lld,"
             "\"qty\":2.5,\"id\":7,\"side\":\"sell\"}\n",
             now, now, now, now, now, big, now);
    sessions[1][0] = (mem_session){script_a, 0};
    nsessions[1] = 1;
    make_config(&cfg, 3);
    assert_int_equal(coll_create(&c, &cfg, &mem_ops, sink), MF_OK);
    assert_int_equal(coll_set_mode(c, MF_MODE_TEST), MF_OK);
    /* Rejects are counted by whichever worker got the line: wait until every line is done. */
    WAIT_TOTALS(c, t, t.lines >= 10 && t.ticks + reject_sum(&t) >= 10);
    assert_int_equal(t.lines, 10);
    assert_int_equal(t.ticks, 2);
    assert_int_equal(t.rejected[MF_REJECT_JSON], 2); /* garbage, NaN */
    assert_int_equal(t.rejected[MF_REJECT_PRICE], 2);
    assert_int_equal(t.rejected[MF_REJECT_SYMBOL], 1);
    assert_int_equal(t.rejected[MF_REJECT_MISSING], 1);
    assert_int_equal(t.rejected[MF_REJECT_TIMESTAMP], 1);
    assert_int_equal(t.rejected[MF_REJECT_TOO_LONG], 1);
    assert_int_equal(t.feeds, 2);
    coll_stop(c);
    assert_int_equal(ngot, 2);
    for (int i = 0; i < ngot; i++) {
        assert_string_equal(got[i].exchange, "exA");
        assert_true(got[i].recv_ts >= now);
        if (strcmp(got[i].symbol, "BTCUSDT") == 0) {
            assert_true(got[i].price == 100143.27730216153);
            assert_false(got[i].has_id);
        } else {
            assert_string_equal(got[i].symbol, "DOGEUSDT");
            assert_true(got[i].price == 0.30254118944878244);
            assert_true(got[i].has_id && got[i].id == 7 && got[i].side == MF_SIDE_SELL);
        }
    }
    coll_destroy(c);
}

static char script_b1[4096], script_b2[4096];

/* A feed that closes is reconnected; per-symbol order is kept across the pool. */
static void reconnect_and_order(coll_sink sink) {
    mf_config cfg;
    collector *c = NULL;
    coll_totals t;
    long long now = mf_now_ms();
    static const char *syms[] = {"BTCUSDT", "ETHUSDT", "SOLUSDT", "TONUSDT", "DOGEUSDT"};
    size_t off = 0;
    for (int i = 0; i < 40; i++)
        off += (size_t)snprintf(script_b1 + off, sizeof(script_b1) - off,
                                "{\"symbol\":\"%s\",\"price\":%d.5,\"timestamp\":%lld}\n",
                                syms[i % 5], i + 1, now + i);
    snprintf(script_b2, sizeof(script_b2),
             "{\"symbol\":\"BTCUSDT\",\"price\":99,\"timestamp\":%lld}\n", now + 100);
    sessions[2][0] = (mem_session){script_b1, 1};
    sessions[2][1] = (mem_session){script_b2, 0};
    nsessions[2] = 2;
    make_config(&cfg, 5);
    assert_int_equal(coll_create(&c, &cfg, &mem_ops, sink), MF_OK);
    assert_int_equal(coll_set_mode(c, MF_MODE_TEST), MF_OK);
    WAIT_TOTALS(c, t, t.ticks >= 41);
    assert_int_equal(t.ticks, 41);
    assert_int_equal(connects[2], 2);
    coll_stop(c);
    for (int s = 0; s < 5; s++) {
        long long last = 0;
        for (int i = 0; i < ngot; i++) {
            if (strcmp(got[i].symbol, syms[s]) != 0) continue;
            assert_true(got[i].ts > last);
            last = got[i].ts;
        }
    }
    coll_destroy(c);
}

static void test_reconnect_and_order(void **state) {
    (void)state;
    reconnect_and_order((coll_sink){rec_publish, NULL, NULL});
    assert_int_equal(batch_calls, 0);
}

/* The same through publish_many: same ticks, same per-symbol order. */
static void test_reconnect_and_order_batched(void **state) {
    (void)state;
    reconnect_and_order((coll_sink){rec_publish, NULL, rec_publish_many});
    assert_int_equal(ngot, 41);
    assert_true(batch_calls >= 1);
}

/* What publish_many drops is counted as dropped, not as ticks. */
static void test_batch_drops_counted(void **state) {
    mf_config cfg;
    collector *c = NULL;
    coll_totals t;
    coll_sink sink = {rec_publish, NULL, rec_publish_many};
    long long now = mf_now_ms();
    size_t off = 0;
    (void)state;
    drop_all = 1;
    for (int i = 0; i < 30; i++)
        off += (size_t)snprintf(script_b1 + off, sizeof(script_b1) - off,
                                "{\"symbol\":\"BTCUSDT\",\"price\":%d.5,\"timestamp\":%lld}\n",
                                i + 1, now + i);
    sessions[2][0] = (mem_session){script_b1, 0};
    nsessions[2] = 1;
    make_config(&cfg, 2);
    assert_int_equal(coll_create(&c, &cfg, &mem_ops, sink), MF_OK);
    assert_int_equal(coll_set_mode(c, MF_MODE_TEST), MF_OK);
    WAIT_TOTALS(c, t, t.dropped >= 30);
    assert_int_equal(t.dropped, 30);
    assert_int_equal(t.ticks, 0);
    coll_stop(c);
    assert_int_equal(ngot, 0);
    coll_destroy(c);
}

static char script_live[256], script_test[256];

static void test_mode_switch(void **state) {
    mf_config cfg;
    collector *c = NULL;
    coll_totals t;
    coll_sink sink = {rec_publish, NULL, NULL};
    long long now = mf_now_ms();
    json_t *st;
    (void)state;
    snprintf(script_test, sizeof(script_test),
             "{\"symbol\":\"BTCUSDT\",\"price\":1,\"timestamp\":%lld}\n", now);
    snprintf(script_live, sizeof(script_live),
             "{\"symbol\":\"BTCUSDT\",\"price\":2,\"timestamp\":%lld}\n", now);
    for (int k = 0; k < 2; k++) {
        sessions[1][k] = (mem_session){script_test, 0};
        sessions[3][k] = (mem_session){script_live, 0};
    }
    nsessions[1] = nsessions[3] = 2;
    make_config(&cfg, 2);
    assert_int_equal(coll_create(&c, &cfg, &mem_ops, sink), MF_OK);
    assert_int_equal(coll_mode(c), -1);
    assert_int_equal(coll_set_mode(c, MF_MODE_TEST), MF_OK);
    WAIT_TOTALS(c, t, t.ticks >= 1);
    assert_int_equal(coll_set_mode(c, MF_MODE_LIVE), MF_OK);
    assert_int_equal(coll_mode(c), MF_MODE_LIVE);
    WAIT_TOTALS(c, t, t.ticks >= 1);
    assert_int_equal(t.feeds, 1);
    st = json_object();
    coll_status_fill(st, c);
    assert_string_equal(json_string_value(json_object_get(st, "mode")), "live");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(st, "feeds"), 0), "name")),
        "live1");
    json_decref(st);
    assert_int_equal(coll_set_mode(c, MF_MODE_TEST), MF_OK);
    WAIT_TOTALS(c, t, t.ticks >= 1);
    coll_stop(c);
    assert_int_equal(ngot, 3);
    assert_string_equal(got[0].exchange, "exA");
    assert_true(got[0].price == 1);
    assert_string_equal(got[1].exchange, "live1");
    assert_true(got[1].price == 2);
    assert_string_equal(got[2].exchange, "exA");
    coll_destroy(c);
}

static void test_symbol_hash(void **state) {
    const char *a = "{\"symbol\":\"BTCUSDT\",\"price\":1}";
    const char *b = "{\"price\":2,\"symbol\" : \"BTCUSDT\"}";
    (void)state;
    assert_int_equal(coll_symbol_hash(a, strlen(a)), coll_symbol_hash(b, strlen(b)));
    assert_int_equal(coll_symbol_hash("garbage", 7), 0);
    assert_int_equal(coll_symbol_hash("{\"symbol\":", 10), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_lines_to_ticks, setup),
        cmocka_unit_test_setup(test_reconnect_and_order, setup),
        cmocka_unit_test_setup(test_reconnect_and_order_batched, setup),
        cmocka_unit_test_setup(test_batch_drops_counted, setup),
        cmocka_unit_test_setup(test_mode_switch, setup),
        cmocka_unit_test_setup(test_symbol_hash, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
