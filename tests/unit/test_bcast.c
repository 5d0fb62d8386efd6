/* Unit tests of the fan-out (common/src/bcast.c) over socketpairs and one loopback listener:
 * every client gets every frame, a client that stops reading is dropped without the others
 * losing a byte, the per-client bound is never passed, the skip policy keeps whole frames,
 * stalls, hang-ups, accept and refusal. The oracle is what the peers read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mf/bcast.h"
#include "mf/log.h"
#include "mf/util.h"

#define FRAME 1000
#define BOUND (16 * FRAME)

typedef struct rec {
    int closes, slow;
    char last_why[32];
    int refuse;
    mf_bcast_full policy;
} rec;

static void on_close(void *ctx, mf_bcast_client *c, const char *why) {
    rec *r = ctx;
    (void)c;
    r->closes++;
    r->slow += strcmp(why, "slow") == 0;
    snprintf(r->last_why, sizeof(r->last_why), "%s", why);
}

static mf_bcast_full on_full(void *ctx, mf_bcast_client *c, size_t pending, size_t len) {
    rec *r = ctx;
    assert_true(pending + len > BOUND);
    (void)c;
    return r->policy;
}

static int on_accept(void *ctx, const char *addr) {
    rec *r = ctx;
    assert_non_null(strstr(addr, "127.0.0.1:"));
    return r->refuse;
}

static mf_bcast *make(rec *r, int64_t stall_ms, int with_policy) {
    mf_bcast *b = NULL;
    mf_bcast_opts o = {.label = "test=1",
                       .client_buffer = BOUND,
                       .stall_ms = stall_ms,
                       .ctx = r,
                       .on_accept = on_accept,
                       .on_close = on_close,
                       .on_full = with_policy ? on_full : NULL};
    memset(r, 0, sizeof(*r));
    assert_int_equal(mf_bcast_create(&b, &o), MF_OK);
    return b;
}

/* One socketpair with small kernel buffers, so that a peer that does not read makes the
 * fan-out buffer soon. Returns the peer's end. */
static int add_pair(mf_bcast *b, const char *name, mf_bcast_client **c) {
    int sv[2], small = 4096;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    assert_int_equal(mf_bcast_add(b, sv[0], name, c), MF_OK);
    return sv[1];
}

/* Frame k: FRAME bytes, every one equal to k % 251 (so a skipped or cut frame shows). */
static void frame(char *buf, int k) {
    memset(buf, k % 251, FRAME);
}

/* Reads what is there without waiting; appends to acc. */
static void drain(int fd, char *acc, size_t *n, size_t cap) {
    for (;;) {
        ssize_t r = recv(fd, acc + *n, cap - *n, MSG_DONTWAIT);
        if (r <= 0) return;
        *n += (size_t)r;
    }
}

static void test_fanout_and_slow_drop(void **state) {
    enum { NFRAMES = 200 };
    size_t cap = (size_t)NFRAMES * FRAME, n1 = 0, n2 = 0;
    char *acc1 = malloc(cap), *acc2 = malloc(cap), buf[FRAME];
    mf_bcast_client *c1, *c2, *cs;
    mf_bcast_stats st;
    rec r;
    mf_bcast *b = make(&r, 0, 0);
    int p1 = add_pair(b, "fast1", &c1), p2 = add_pair(b, "fast2", &c2);
    int ps = add_pair(b, "slow", &cs);
    int slow_open = 1;
    (void)state;
    assert_string_equal(mf_bcast_addr(cs), "slow");
    for (int k = 0; k < NFRAMES; k++) {
        int took;
        frame(buf, k);
        took = mf_bcast_send_all(b, buf, FRAME);
        if (slow_open && r.slow == 0) assert_true(mf_bcast_pending(cs) <= BOUND); /* the bound */
        if (slow_open && r.slow == 1) {
            slow_open = 0;
            assert_int_equal(took, 2); /* the frame that overflowed it went to the others */
        }
        assert_int_equal(took, slow_open ? 3 : 2);
        /* The fast peers read, and the fan-out writes what they made room for. */
        for (int spin = 0; spin < 100 && (mf_bcast_pending(c1) || mf_bcast_pending(c2)); spin++) {
            drain(p1, acc1, &n1, cap);
            drain(p2, acc2, &n2, cap);
            mf_bcast_poll(b, 1);
        }
        drain(p1, acc1, &n1, cap);
        drain(p2, acc2, &n2, cap);
    }
    assert_int_equal(r.slow, 1);
    assert_int_equal(r.closes, 1);
    assert_int_equal(mf_bcast_clients(b), 2);
    /* The others got every frame, whole and in order. */
    assert_int_equal(n1, cap);
    assert_int_equal(n2, cap);
    for (int k = 0; k < NFRAMES; k++) {
        frame(buf, k);
        assert_memory_equal(acc1 + (size_t)k * FRAME, buf, FRAME);
        assert_memory_equal(acc2 + (size_t)k * FRAME, buf, FRAME);
    }
    /* The slow peer sees the end of its stream after what the kernel held. */
    {
        char sink[65536];
        ssize_t got;
        while ((got = recv(ps, sink, sizeof(sink), 0)) > 0) continue;
        assert_int_equal(got, 0);
    }
    mf_bcast_stats_get(b, &st);
    assert_int_equal(st.accepted, 3);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.closed, 0);
    assert_int_equal(st.frames, NFRAMES);
    assert_int_equal(st.clients, 2);
    mf_bcast_destroy(b);
    close(p1);
    close(p2);
    close(ps);
    free(acc1);
    free(acc2);
}

/* The skip policy: a full client keeps its place and gets whole frames only. */
static void test_skip_policy(void **state) {
    enum { NFRAMES = 100 };
    char buf[FRAME], *acc = malloc((size_t)NFRAMES * FRAME);
    size_t n = 0;
    mf_bcast_client *c;
    rec r;
    mf_bcast *b = make(&r, 0, 1);
    int p = add_pair(b, "skipper", &c), last = -1;
    (void)state;
    r.policy = MF_BCAST_SKIP;
    for (int k = 0; k < NFRAMES; k++) {
        frame(buf, k);
        mf_bcast_send_all(b, buf, FRAME);
        assert_true(mf_bcast_pending(c) <= BOUND);
    }
    assert_int_equal(r.closes, 0);
    assert_int_equal(mf_bcast_clients(b), 1);
    assert_int_equal(mf_bcast_all_behind(b), 1);
    for (int spin = 0; spin < 1000 && mf_bcast_pending(c) > 0; spin++) {
        drain(p, acc, &n, (size_t)NFRAMES * FRAME);
        mf_bcast_poll(b, 1);
    }
    drain(p, acc, &n, (size_t)NFRAMES * FRAME);
    assert_int_equal(mf_bcast_pending(c), 0);
    assert_int_equal(mf_bcast_all_behind(b), 0);
    assert_true(n % FRAME == 0 && n < (size_t)NFRAMES * FRAME); /* some were skipped */
    for (size_t off = 0; off < n; off += FRAME) {
        int k = (unsigned char)acc[off];
        frame(buf, k);
        assert_memory_equal(acc + off, buf, FRAME); /* whole frames */
        assert_true(k > last);                      /* in order */
        last = k;
    }
    assert_true(last < NFRAMES - 1); /* the frames sent while it was full were skipped */
    /* With room again, the next frame goes through whole. */
    frame(buf, 250);
    assert_int_equal(mf_bcast_send(b, c, buf, FRAME), MF_OK);
    n = 0;
    while (n < FRAME) {
        mf_bcast_poll(b, 1);
        drain(p, acc, &n, (size_t)NFRAMES * FRAME);
    }
    assert_int_equal(n, FRAME);
    assert_memory_equal(acc, buf, FRAME);
    mf_bcast_destroy(b);
    close(p);
    free(acc);
}

static void test_stall_eof_close(void **state) {
    char buf[FRAME];
    mf_bcast_client *ca, *cb, *cc;
    rec r;
    mf_bcast *b = make(&r, 50, 0);
    int pa = add_pair(b, "a", &ca), pb = add_pair(b, "b", &cb), pc = add_pair(b, "c", &cc);
    (void)state;
    memset(buf, 'x', sizeof(buf));
    /* a: pending bytes and no reader for > stall_ms: dropped as slow. */
    for (int k = 0; k < 10; k++) assert_int_equal(mf_bcast_send(b, ca, buf, FRAME), MF_OK);
    assert_true(mf_bcast_pending(ca) > 0);
    assert_int_equal(mf_bcast_pending(cb), 0);
    mf_sleep_ms(80);
    mf_bcast_poll(b, 0);
    assert_int_equal(r.slow, 1);
    assert_string_equal(r.last_why, "slow");
    assert_int_equal(mf_bcast_send(b, ca, buf, FRAME), MF_ERR_CLOSED);
    /* b: the peer closes (a socketpair reports a hang-up, TCP an EOF). */
    close(pb);
    for (int i = 0; i < 10 && r.closes < 2; i++) mf_bcast_poll(b, 10);
    assert_int_equal(r.closes, 2);
    assert_true(strcmp(r.last_why, "hangup") == 0 || strcmp(r.last_why, "eof") == 0);
    /* c: flushed, then closed by the owner. */
    assert_int_equal(mf_bcast_flush(b, 100), 0);
    assert_int_equal(mf_bcast_close_flushed(b, "done"), 0);
    assert_string_equal(r.last_why, "done");
    assert_int_equal(mf_bcast_clients(b), 0);
    mf_bcast_poll(b, 0); /* frees them */
    mf_bcast_destroy(b);
    close(pa);
    close(pc);
}

static int connect_to(int port) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void test_listener(void **state) {
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t slen = sizeof(sa);
    int lfd = socket(AF_INET, SOCK_STREAM, 0), c1, c2;
    char got[6] = "";
    rec r;
    mf_bcast *b = make(&r, 0, 0);
    (void)state;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 8), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &slen), 0);
    assert_int_equal(mf_bcast_listen(b, lfd), MF_OK);
    c1 = connect_to(ntohs(sa.sin_port));
    for (int i = 0; i < 50 && mf_bcast_clients(b) < 1; i++) mf_bcast_poll(b, 10);
    assert_int_equal(mf_bcast_clients(b), 1);
    assert_int_equal(mf_bcast_send_all(b, "hello", 5), 1);
    assert_int_equal(recv(c1, got, 5, MSG_WAITALL), 5);
    assert_string_equal(got, "hello");
    /* Refused: closed at once, not counted. */
    r.refuse = 1;
    c2 = connect_to(ntohs(sa.sin_port));
    for (int i = 0; i < 5; i++) mf_bcast_poll(b, 10);
    assert_int_equal(recv(c2, got, 1, 0), 0);
    assert_int_equal(mf_bcast_clients(b), 1);
    /* A TCP peer that closes is an EOF. */
    close(c2);
    c2 = connect_to(ntohs(sa.sin_port));
    r.refuse = 0;
    for (int i = 0; i < 50 && mf_bcast_clients(b) < 2; i++) mf_bcast_poll(b, 10);
    assert_int_equal(mf_bcast_clients(b), 2);
    close(c2);
    for (int i = 0; i < 50 && r.closes < 1; i++) mf_bcast_poll(b, 10);
    assert_int_equal(r.closes, 1);
    assert_string_equal(r.last_why, "eof");
    mf_bcast_close_all(b, "shutdown");
    assert_int_equal(recv(c1, got, 1, 0), 0);
    assert_int_equal(r.closes, 2);
    mf_bcast_destroy(b); /* closes the listener */
    close(c1);
}

static void test_bad_args(void **state) {
    mf_bcast *b = NULL;
    mf_bcast_opts o = {.client_buffer = 0};
    (void)state;
    assert_int_equal(mf_bcast_create(&b, &o), MF_ERR_INVALID_ARG);
    assert_int_equal(mf_bcast_create(NULL, &o), MF_ERR_INVALID_ARG);
    mf_bcast_destroy(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fanout_and_slow_drop),
        cmocka_unit_test(test_skip_policy),
        cmocka_unit_test(test_stall_eof_close),
        cmocka_unit_test(test_listener),
        cmocka_unit_test(test_bad_args),
    };
    mf_log_min_level = MF_LOG_ERROR;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
