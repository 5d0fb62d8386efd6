/* Unit tests of the feed port's line adapter (services/collector/feed_line.c) and of its TCP
 * stream (stream_tcp.c): frames of each next() against an independent split of the input,
 * shard keys, overlong lines, decoding, and the kind table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "feed.h"
#include "mf/util.h"

/* ---- a scripted stream: each read returns the next chunk ---------------------------------- */

typedef struct script {
    const char *chunks[8];
    int n, next;
} script;

static script the_script;

static mf_status s_connect(void **conn, const mf_endpoint *ep, int timeout_ms) {
    (void)ep;
    (void)timeout_ms;
    the_script.next = 0;
    *conn = &the_script;
    return MF_OK;
}

static mf_status s_read(void *conn, char *buf, size_t cap, size_t *n, int timeout_ms) {
    script *s = conn;
    size_t len;
    (void)timeout_ms;
    if (s->next == s->n) return MF_ERR_CLOSED;
    len = strlen(s->chunks[s->next]);
    assert_true(len <= cap);
    memcpy(buf, s->chunks[s->next++], len);
    *n = len;
    return MF_OK;
}

static void s_close(void *conn) {
    (void)conn;
}

static const coll_stream_ops script_stream = {s_connect, s_read, s_close};

static coll_feed_conn *open_script(size_t max_line) {
    coll_feed_conn *c = NULL;
    mf_endpoint ep;
    coll_feed_opts opts = {.max_line = max_line};
    memset(&ep, 0, sizeof(ep));
    assert_int_equal(coll_feed_line_open_on(&c, &coll_feed_line, &script_stream, &ep, &opts, 10),
                     MF_OK);
    assert_ptr_equal(c->ops, &coll_feed_line);
    return c;
}

/* The frames must be exactly these lines, in order, each with its symbol hash as key. */
static void expect_frames(const coll_frames *fr, const char *const *want, size_t nwant) {
    assert_int_equal(fr->n, nwant);
    for (size_t i = 0; i < nwant; i++) {
        assert_int_equal(fr->v[i].len, strlen(want[i]));
        assert_memory_equal(fr->v[i].data, want[i], fr->v[i].len);
        assert_int_equal(fr->v[i].key, coll_symbol_hash(want[i], strlen(want[i])));
    }
}

#define L1 "{\"symbol\":\"BTCUSDT\",\"price\":1.5,\"timestamp\":1000}"
#define L2 "{\"symbol\":\"ETHUSDT\",\"price\":2,\"timestamp\":1001}"
#define L3 "{\"symbol\":\"DOGEUSDT\",\"price\":0.25,\"timestamp\":1002}"

static void test_frames_across_reads(void **state) {
    static const char *const first[] = {L1, L2};
    static const char *const second[] = {L3};
    coll_feed_conn *c;
    coll_frames fr;
    (void)state;
    /* Read 1 ends inside L3: the partial tail must not overwrite the frames handed out. */
    the_script = (script){.chunks = {L1 "\n" L2 "\r\n"
                                        "{\"symbol\":\"DOGE",
                                     "USDT\",\"price\":0.25,"
                                     "\"timestamp\":1002}\n\n"},
                          .n = 2};
    c = open_script(4096);
    assert_int_equal(c->ops->next(c, &fr, 10), MF_OK);
    expect_frames(&fr, first, 2);
    assert_int_equal(fr.too_long, 0);
    assert_int_equal(c->ops->next(c, &fr, 10), MF_OK);
    expect_frames(&fr, second, 1);
    assert_int_equal(c->ops->next(c, &fr, 10), MF_ERR_CLOSED);
    assert_int_equal(fr.n, 0);
    coll_feed_close(c);
    coll_feed_close(NULL);
}

static void test_too_long(void **state) {
    static const char *const want[] = {L1, L2};
    char *big = malloc(200);
    coll_feed_conn *c;
    coll_frames fr;
    (void)state;
    memset(big, 'x', 199);
    big[199] = '\0';
    /* max_line 60: L1 (51 bytes) passes, the 199-byte line is skipped to its newline. */
    the_script = (script){.chunks = {L1 "\n", big, "tail\n" L2 "\n"}, .n = 3};
    c = open_script(60);
    assert_int_equal(c->ops->next(c, &fr, 10), MF_OK);
    expect_frames(&fr, want, 1);
    assert_int_equal(c->ops->next(c, &fr, 10), MF_OK);
    assert_int_equal(fr.n, 0);
    assert_int_equal(fr.too_long, 1); /* reported once, when it began */
    assert_int_equal(c->ops->next(c, &fr, 10), MF_OK);
    expect_frames(&fr, want + 1, 1);
    assert_int_equal(fr.too_long, 0);
    coll_feed_close(c);
    free(big);
}

static void test_decode(void **state) {
    coll_decode_env env = {.now_ms = 1000, .max_past_ms = 0, .max_future_ms = 0};
    coll_msg m;
    mf_tick t;
    (void)state;
    memset(&m, 0, sizeof(m));
    memset(&t, 0, sizeof(t));
    strcpy(m.u.tick.exchange, "ex1");
    assert_int_equal(coll_feed_line.decode(L1, strlen(L1), &env, &m), MF_REJECT_NONE);
    assert_int_equal(m.kind, COLL_MSG_TICK);
    assert_string_equal(m.u.tick.exchange, "ex1"); /* left to the core */
    /* The oracle: the same fast parser called directly. */
    assert_int_equal(mf_feed_line_parse(L1, strlen(L1), 1000, 0, 0, &t), MF_REJECT_NONE);
    assert_string_equal(m.u.tick.symbol, t.symbol);
    assert_true(m.u.tick.price == 1.5 && m.u.tick.ts == 1000);
    /* The window is checked in the same pass. */
    env.now_ms = 10000000;
    env.max_past_ms = 1000;
    assert_int_equal(coll_feed_line.decode(L1, strlen(L1), &env, &m),
                     mf_feed_line_parse(L1, strlen(L1), 10000000, 1000, 0, &t));
    assert_int_not_equal(coll_feed_line.decode(L1, strlen(L1), &env, &m), MF_REJECT_NONE);
    assert_int_equal(coll_feed_line.decode("{", 1, &env, &m),
                     mf_feed_line_parse("{", 1, 0, 0, 0, &t));
}

static void test_kinds(void **state) {
    (void)state;
    assert_ptr_equal(coll_feed_ops_for(MF_FEED_LINE), &coll_feed_line);
    assert_null(coll_feed_ops_for(MF_FEED_BINANCE));
    assert_string_equal(coll_feed_line.kind, "line");
    assert_null(coll_feed_line.snapshot);
}

/* The production adapter end to end: coll_feed_line over a loopback TCP socket. */
static void test_line_over_tcp(void **state) {
    static const char *const want[] = {L1, L2};
    struct sockaddr_in sa;
    socklen_t slen = sizeof(sa);
    int lfd = socket(AF_INET, SOCK_STREAM, 0), cfd;
    mf_endpoint ep;
    coll_feed_opts opts = {.max_line = 4096};
    coll_feed_conn *c = NULL;
    coll_frames fr;
    size_t got = 0;
    (void)state;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 1), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &slen), 0);
    memset(&ep, 0, sizeof(ep));
    strcpy(ep.host, "127.0.0.1");
    ep.port = ntohs(sa.sin_port);
    assert_int_equal(coll_feed_line.open(&c, &ep, &opts, 1000), MF_OK);
    cfd = accept(lfd, NULL, NULL);
    assert_true(cfd >= 0);
    assert_int_equal(c->ops->next(c, &fr, 20), MF_ERR_TIMEOUT);
    assert_int_equal(write(cfd, L1 "\n" L2 "\n", strlen(L1) + strlen(L2) + 2),
                     (ssize_t)(strlen(L1) + strlen(L2) + 2));
    while (got < 2) { /* one or two reads, as the kernel delivers */
        assert_int_equal(c->ops->next(c, &fr, 1000), MF_OK);
        if (fr.n > 0) expect_frames(&fr, want + got, fr.n);
        got += fr.n;
    }
    close(cfd);
    assert_int_equal(c->ops->next(c, &fr, 1000), MF_ERR_CLOSED);
    coll_feed_close(c);
    close(lfd);
    /* Nothing listens there now. */
    assert_int_not_equal(coll_feed_line.open(&c, &ep, &opts, 200), MF_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_across_reads),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_line_over_tcp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
