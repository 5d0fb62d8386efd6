/* Unit tests of the JetStream publisher (common/src/jspub.c) without NATS: a test transport
 * records every publish, and answers are handed in with mf_jspub_deliver as the inbox would.
 *
 * Oracles: the classification is compared with a jansson decoding of the same answer (parse,
 * then the documented rules applied to the parsed object) over hand-written and generated
 * answers in nats-server's compact form; the ring is checked against the sequence numbers
 * and Msg-Ids the test itself chose. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf/jspub.h"
#include "mf/util.h"

/* ---- classification ------------------------------------------------------------------------ */

/* The rules of mf/jspub.h, applied to the decoded answer. */
static mf_jspub_outcome oracle(const char *body, int noresp) {
    json_t *root, *err;
    mf_jspub_outcome o;
    if (noresp || body[0] == '\0') return MF_JSPUB_RETRYABLE;
    root = json_loads(body, 0, NULL);
    assert_non_null(root);
    err = json_object_get(root, "error");
    if (err != NULL)
        o = json_integer_value(json_object_get(err, "code")) == 503 ? MF_JSPUB_RETRYABLE
                                                                    : MF_JSPUB_REFUSED;
    else
        o = json_is_true(json_object_get(root, "duplicate")) ? MF_JSPUB_DUPLICATE : MF_JSPUB_STORED;
    json_decref(root);
    return o;
}

static void check_classify(const char *body, mf_jspub_outcome want) {
    mf_jspub_outcome got = mf_jspub_classify(body, (int)strlen(body), 0);
    if (got != want || got != oracle(body, 0))
        fail_msg("%s: got %s, want %s (oracle %s)", body, mf_jspub_outcome_str(got),
                 mf_jspub_outcome_str(want), mf_jspub_outcome_str(oracle(body, 0)));
}

static void test_classify_fixed(void **state) {
    (void)state;
    check_classify("{\"stream\":\"MARKETFLOW_TICKS\",\"seq\":42}", MF_JSPUB_STORED);
    check_classify("{\"stream\":\"MARKETFLOW_TICKS\",\"seq\":42,\"duplicate\":true}",
                   MF_JSPUB_DUPLICATE);
    check_classify("{\"stream\":\"S\",\"domain\":\"hub\",\"seq\":7,\"duplicate\":false}",
                   MF_JSPUB_STORED);
    check_classify("{\"error\":{\"code\":503,\"err_code\":10008,\"description\":\"JetStream "
                   "system temporarily unavailable\"}}",
                   MF_JSPUB_RETRYABLE);
    check_classify("{\"error\":{\"code\":400,\"err_code\":10060,\"description\":\"expected "
                   "stream does not match\"}}",
                   MF_JSPUB_REFUSED);
    check_classify("{\"error\":{\"code\":5030,\"err_code\":503,\"description\":\"x\"}}",
                   MF_JSPUB_REFUSED);
    check_classify("{\"error\":{\"code\":500,\"err_code\":10077,\"description\":\"the text "
                   "\\\"duplicate\\\":true and \\\"code\\\":503\"}}",
                   MF_JSPUB_REFUSED);
    /* No responders (no stream, leader moving) and empty answers. */
    assert_int_equal(mf_jspub_classify(NULL, 0, 1), MF_JSPUB_RETRYABLE);
    assert_int_equal(mf_jspub_classify("", 0, 0), MF_JSPUB_RETRYABLE);
    assert_int_equal(mf_jspub_classify("{\"stream\":\"S\",\"seq\":1}", 22, 1), MF_JSPUB_RETRYABLE);
}

/* Answers built with jansson in nats-server's compact form, fields in varying order. */
static void test_classify_generated(void **state) {
    static const int codes[] = {400, 404, 408, 409, 500, 503, 50, 5031, 1503, 0};
    (void)state;
    srand(11);
    for (int i = 0; i < 5000; i++) {
        json_t *root = json_object();
        char *body;
        if (rand() % 3 == 0) {
            json_t *e = json_object();
            if (rand() % 2) json_object_set_new(e, "err_code", json_integer(10000 + rand() % 99));
            json_object_set_new(e, "code", json_integer(codes[rand() % 10]));
            json_object_set_new(e, "description", json_string("refused"));
            json_object_set_new(root, "error", e);
        } else {
            json_object_set_new(root, "stream", json_string("MARKETFLOW_ROLLUPS"));
            json_object_set_new(root, "seq", json_integer(rand()));
            if (rand() % 2) json_object_set_new(root, "duplicate", json_boolean(rand() % 2));
        }
        body = json_dumps(root, JSON_COMPACT | (rand() % 2 ? JSON_SORT_KEYS : 0));
        check_classify(body, oracle(body, 0));
        free(body);
        json_decref(root);
    }
}

/* ---- the ring, with a test transport ------------------------------------------------------- */

#define MAXPUB 256

typedef struct sent_msg {
    char subject[64], reply[96], id[64], data[64];
} sent_msg;

typedef struct fixture {
    sent_msg sent[MAXPUB];
    int nsent;
    int up;
    natsStatus fail; /* what publish returns (NATS_OK: accepted) */
    void *done_user[MAXPUB];
    mf_jspub_outcome done_out[MAXPUB];
    int ndone;
    int renders;
    mf_jspub *p;
} fixture;

static natsStatus fx_publish(void *closure, natsMsg *m) {
    fixture *f = closure;
    sent_msg *s;
    const char *id = NULL;
    if (f->fail != NATS_OK) return f->fail;
    assert_true(f->nsent < MAXPUB);
    s = &f->sent[f->nsent++];
    snprintf(s->subject, sizeof(s->subject), "%s", natsMsg_GetSubject(m));
    snprintf(s->reply, sizeof(s->reply), "%s", natsMsg_GetReply(m));
    assert_int_equal(natsMsgHeader_Get(m, "Nats-Msg-Id", &id), NATS_OK);
    snprintf(s->id, sizeof(s->id), "%s", id);
    snprintf(s->data, sizeof(s->data), "%.*s", natsMsg_GetDataLength(m), natsMsg_GetData(m));
    return NATS_OK;
}

static int fx_connected(void *closure) {
    return ((fixture *)closure)->up;
}

static void fx_done(void *closure, void *user, mf_jspub_outcome out) {
    fixture *f = closure;
    assert_true(f->ndone < MAXPUB);
    f->done_user[f->ndone] = user;
    f->done_out[f->ndone++] = out;
}

/* Render mode: user points at an int n; the message is "id-n" / "data-n". */
static int fx_render(void *closure, void *user, mf_jspub_msg *out) {
    static char id[32], data[32];
    fixture *f = closure;
    int n = *(int *)user;
    f->renders++;
    if (n < 0) return -1;
    snprintf(id, sizeof(id), "id-%d", n);
    snprintf(data, sizeof(data), "data-%d", n);
    out->subject = "mf.rollups.1s.x.y";
    out->msg_id = id;
    out->data = data;
    out->len = (int)strlen(data);
    return 0;
}

static mf_jspub_transport fx_transport;

static fixture *fx_new(size_t slots, int render) {
    fixture *f = mf_xcalloc(1, sizeof(*f));
    mf_jspub_config c = {
        .slots = slots,
        .ack_wait_ms = 3000,
        .retry_ms = 500,
        .scan_ms = 100,
        .render = render ? fx_render : NULL,
        .done = fx_done,
        .closure = f,
        .wake_after = 2,
    };
    f->up = 1;
    fx_transport.publish = fx_publish;
    fx_transport.connected = fx_connected;
    fx_transport.closure = f;
    c.transport = &fx_transport;
    assert_int_equal(mf_jspub_create(&f->p, &c), MF_OK);
    return f;
}

static void fx_free(fixture *f) {
    mf_jspub_destroy(f->p);
    free(f);
}

static mf_status send_n(fixture *f, int n, void *user, int64_t now) {
    char id[32], data[32];
    mf_jspub_msg m = {.subject = "mf.ticks.x.y", .msg_id = id, .data = data};
    snprintf(id, sizeof(id), "id-%d", n);
    m.len = snprintf(data, sizeof(data), "data-%d", n);
    return mf_jspub_send(f->p, &m, user, now);
}

/* Hands in an answer for ring sequence seq, as "<inbox>.<seq>". */
static void answer(fixture *f, uint64_t seq, const char *body, int noresp) {
    char subj[64];
    natsMsg *m = NULL;
    snprintf(subj, sizeof(subj), "_INBOX.test.%llu", (unsigned long long)seq);
    assert_int_equal(natsMsg_Create(&m, subj, NULL, body, (int)strlen(body)), NATS_OK);
    if (noresp) assert_int_equal(natsMsgHeader_Set(m, "Status", "503"), NATS_OK);
    mf_jspub_deliver(f->p, m);
}

static const char *ACK = "{\"stream\":\"S\",\"seq\":1}";

/* The reply subject names the ring sequence: "<inbox>.<seq>" (no inbox without NATS). */
static uint64_t reply_seq(const sent_msg *s) {
    const char *dot = strrchr(s->reply, '.');
    return strtoull(dot != NULL ? dot + 1 : s->reply, NULL, 10);
}

static void test_ring_full_and_in_order_freeing(void **state) {
    fixture *f = fx_new(4, 0);
    int users[5];
    (void)state;
    for (int i = 0; i < 4; i++) assert_int_equal(send_n(f, i, &users[i], 0), MF_OK);
    assert_int_equal(mf_jspub_room(f->p), 0);
    assert_int_equal(send_n(f, 4, &users[4], 0), MF_ERR_FULL);
    assert_int_equal(f->nsent, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(reply_seq(&f->sent[i]), (uint64_t)i);
        assert_string_equal(f->sent[i].subject, "mf.ticks.x.y");
    }
    assert_int_equal(mf_jspub_inflight(f->p), 4);
    /* Seq 1 stored first: its callback comes, but the ring frees in order. */
    answer(f, 1, ACK, 0);
    assert_int_equal(mf_jspub_poll(f->p, 10), 1);
    assert_int_equal(f->ndone, 1);
    assert_ptr_equal(f->done_user[0], &users[1]);
    assert_int_equal(f->done_out[0], MF_JSPUB_STORED);
    assert_int_equal(mf_jspub_room(f->p), 0);
    answer(f, 0, "{\"stream\":\"S\",\"seq\":2,\"duplicate\":true}", 0);
    mf_jspub_poll(f->p, 20);
    assert_int_equal(f->done_out[1], MF_JSPUB_DUPLICATE);
    assert_int_equal(mf_jspub_room(f->p), 2);
    assert_int_equal(mf_jspub_inflight(f->p), 2);
    /* The same answer twice, and the answer to an earlier occupant of a reused slot. */
    answer(f, 0, ACK, 0);
    assert_int_equal(send_n(f, 4, &users[4], 30), MF_OK); /* seq 4, slot 0 */
    answer(f, 0, ACK, 0);
    mf_jspub_poll(f->p, 40);
    assert_int_equal(f->ndone, 2);
    answer(f, 4, ACK, 0);
    mf_jspub_poll(f->p, 50);
    assert_int_equal(f->ndone, 3);
    assert_ptr_equal(f->done_user[2], &users[4]);
    {
        mf_jspub_counts c = {0};
        mf_jspub_take_counts(f->p, &c);
        assert_int_equal(c.sent, 5);
        assert_int_equal(c.stored, 3);
        assert_int_equal(c.duplicates, 1);
        assert_int_equal(c.resent, 0);
        memset(&c, 0, sizeof(c));
        mf_jspub_take_counts(f->p, &c); /* counts start again from zero */
        assert_int_equal(c.sent, 0);
    }
    /* Destroy reports what is still in flight (seqs 2 and 3). */
    mf_jspub_destroy(f->p);
    f->p = NULL;
    assert_int_equal(f->ndone, 5);
    assert_int_equal(f->done_out[3], MF_JSPUB_ABANDONED);
    assert_int_equal(f->done_out[4], MF_JSPUB_ABANDONED);
    fx_free(f);
}

static void test_retries_keep_the_msg_id(void **state) {
    fixture *f = fx_new(8, 0);
    mf_jspub_counts c = {0};
    (void)state;
    for (int i = 0; i < 3; i++) assert_int_equal(send_n(f, i, NULL, 1000), MF_OK);
    /* 0: no responders; 1: 503; 2: refused for good. */
    answer(f, 0, "", 1);
    answer(f, 1, "{\"error\":{\"code\":503,\"err_code\":10008,\"description\":\"x\"}}", 0);
    answer(f, 2, "{\"error\":{\"code\":400,\"err_code\":10060,\"description\":\"y\"}}", 0);
    mf_jspub_poll(f->p, 1000);
    assert_int_equal(f->ndone, 1);
    assert_int_equal(f->done_out[0], MF_JSPUB_REFUSED);
    assert_int_equal(f->nsent, 3);
    mf_jspub_poll(f->p, 1499); /* retry_ms (500) not yet over */
    assert_int_equal(f->nsent, 3);
    mf_jspub_poll(f->p, 1598); /* over, but the last scan is not scan_ms (100) old */
    assert_int_equal(f->nsent, 3);
    mf_jspub_poll(f->p, 1600);
    assert_int_equal(f->nsent, 5);
    for (int i = 0; i < 2; i++) { /* same Msg-Id, same reply, same payload */
        assert_string_equal(f->sent[3 + i].id, f->sent[i].id);
        assert_string_equal(f->sent[3 + i].reply, f->sent[i].reply);
        assert_string_equal(f->sent[3 + i].data, f->sent[i].data);
    }
    /* No PubAck at all: sent again after ack_wait_ms, not before; never while away. */
    mf_jspub_poll(f->p, 1600 + 2999);
    assert_int_equal(f->nsent, 5);
    f->up = 0;
    mf_jspub_poll(f->p, 1600 + 3100);
    assert_int_equal(f->nsent, 5);
    f->up = 1;
    mf_jspub_poll(f->p, 1600 + 3100);
    assert_int_equal(f->nsent, 7);
    mf_jspub_take_counts(f->p, &c);
    assert_int_equal(c.sent, 3);
    assert_int_equal(c.resent, 4);
    assert_int_equal(c.retryable, 2);
    assert_int_equal(c.refused, 1);
    assert_int_equal(c.stored, 0);
    fx_free(f);
}

static void test_refused_send_is_retried(void **state) {
    fixture *f = fx_new(4, 0);
    mf_jspub_counts c = {0};
    (void)state;
    f->fail = NATS_CONNECTION_CLOSED;
    assert_int_equal(send_n(f, 7, NULL, 0), MF_OK); /* takes the slot */
    assert_int_equal(send_n(f, 8, NULL, 0), MF_OK);
    assert_int_equal(mf_jspub_inflight(f->p), 2);
    mf_jspub_poll(f->p, 100); /* still refused: the scan stops at the first */
    f->fail = NATS_OK;
    mf_jspub_poll(f->p, 150); /* scan_ms (100) after the last scan: not yet */
    assert_int_equal(f->nsent, 0);
    mf_jspub_poll(f->p, 200);
    assert_int_equal(f->nsent, 2);
    assert_string_equal(f->sent[0].id, "id-7");
    assert_string_equal(f->sent[1].id, "id-8");
    mf_jspub_take_counts(f->p, &c);
    assert_int_equal(c.sent, 0);
    assert_int_equal(c.send_errors, 3);
    assert_int_equal(c.resent, 2);
    fx_free(f);
}

static void test_render_mode(void **state) {
    fixture *f = fx_new(4, 1);
    int a = 5, bad = -1;
    (void)state;
    assert_int_equal(send_n(f, 5, &a, 0), MF_OK);
    assert_int_equal(send_n(f, 6, &bad, 0), MF_OK);
    assert_int_equal(f->renders, 0); /* the first send uses the caller's message */
    answer(f, 0, "", 1);
    answer(f, 1, "", 1);
    mf_jspub_poll(f->p, 0);
    mf_jspub_poll(f->p, 500);
    assert_int_equal(f->renders, 2);
    assert_int_equal(f->nsent, 3);
    assert_string_equal(f->sent[2].id, "id-5");
    assert_string_equal(f->sent[2].data, "data-5");
    assert_string_equal(f->sent[2].reply, f->sent[0].reply);
    /* A message that cannot be rendered again is refused. */
    assert_int_equal(f->ndone, 1);
    assert_ptr_equal(f->done_user[0], &bad);
    assert_int_equal(f->done_out[0], MF_JSPUB_REFUSED);
    answer(f, 0, ACK, 0);
    mf_jspub_poll(f->p, 600);
    assert_int_equal(f->ndone, 2);
    assert_int_equal(mf_jspub_inflight(f->p), 0);
    assert_int_equal(mf_jspub_room(f->p), 4);
    fx_free(f);
}

static void test_wait_and_wake(void **state) {
    fixture *f = fx_new(4, 0);
    atomic_llong work = 0;
    int64_t t0;
    (void)state;
    t0 = mf_mono_ms();
    mf_jspub_wait(f->p, 200, 0, NULL); /* nothing: the whole timeout */
    assert_true(mf_mono_ms() - t0 >= 190);
    mf_jspub_wake(f->p); /* a wake before the wait ends it at once */
    t0 = mf_mono_ms();
    mf_jspub_wait(f->p, 2000, 0, NULL);
    assert_true(mf_mono_ms() - t0 < 1000);
    atomic_store(&work, 1);
    t0 = mf_mono_ms();
    mf_jspub_wait(f->p, 2000, 0, &work);
    assert_true(mf_mono_ms() - t0 < 1000);
    assert_int_equal(send_n(f, 1, NULL, 0), MF_OK);
    assert_int_equal(send_n(f, 2, NULL, 0), MF_OK);
    answer(f, 0, ACK, 0);
    answer(f, 1, ACK, 0); /* wake_after (2) answers waiting */
    t0 = mf_mono_ms();
    mf_jspub_wait(f->p, 2000, 1, NULL);
    assert_true(mf_mono_ms() - t0 < 1000);
    assert_int_equal(mf_jspub_poll(f->p, 0), 2);
    fx_free(f);
}

/* nats.c's message functions need the library open (a connection does it otherwise). */
static int open_nats(void **state) {
    (void)state;
    return nats_Open(-1) == NATS_OK ? 0 : -1;
}

static int close_nats(void **state) {
    (void)state;
    nats_Close();
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_fixed),
        cmocka_unit_test(test_classify_generated),
        cmocka_unit_test(test_ring_full_and_in_order_freeing),
        cmocka_unit_test(test_retries_keep_the_msg_id),
        cmocka_unit_test(test_refused_send_is_retried),
        cmocka_unit_test(test_render_mode),
        cmocka_unit_test(test_wait_and_wake),
    };
    return cmocka_run_group_tests(tests, open_nats, close_nats);
}
