/* jspub.c: the collector's JetStream pipeline: encoded batches queued by the workers, one
 * publisher thread, the common JetStream publisher (mf_jspub: private PubAck inbox, fixed
 * in-flight ring, outcome rules, resends with the same Msg-Id; see common/src/jspub.c).
 *
 * DESIGN
 * Threads:
 *  - workers (coll__jspub_push): encode up to COLL_JSPUB_BATCH ticks (subject, Msg-Id, tick
 *    JSON) into one malloc'ed batch and append it to the queue under `mu`. The queue is
 *    bounded in ticks (collector.buffer): when full, a worker waits for room at most 200 ms
 *    while NATS is connected, not at all while it is away, then drops the batch (counted).
 *    It wakes the publisher only when that one sleeps for want of work.
 *  - "pub-js", the publisher thread, owns the mf_jspub (collector.max_inflight slots). It
 *    takes batches only while connected and the ring has room; each tick becomes one natsMsg
 *    that its slot keeps until the PubAck comes (resent as it is, every ACK_WAIT_MS without a
 *    PubAck, NORESP_RETRY_MS after a no-responders or 503 answer). When the ring is full it
 *    sleeps until enough PubAcks came to free it.
 *  - nats.c's delivery thread of the PubAck inbox (inside mf_jspub).
 * The collector's policy: a tick refused by JetStream (an error other than 503) is counted
 * in `errors` and not sent again; the completion callback is not needed (the counts come
 * from mf_jspub_take_counts). */
#include "jspub.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mf/jspub.h"
#include "mf/log.h"
#include "mf/subject.h"
#include "mf/util.h"

#define ACK_WAIT_MS 3000
#define NORESP_RETRY_MS 500
#define ROOM_WAIT_MS 200
#define IDLE_WAIT_MS 20
#define SCAN_EVERY_MS 100
#define TAKE_MAX 64 /* batches taken off the queue at once */
#define SUBJ_MAX 160
#define ID_MAX 192
#define JSON_MAX 512

typedef struct js_rec {
    uint16_t subj, id, json; /* lengths; the batch data holds "subj\0id\0json\0" */
} js_rec;

typedef struct js_batch {
    struct js_batch *next;
    uint32_t n;
    js_rec recs[COLL_JSPUB_BATCH];
    char data[];
} js_batch;

struct coll__jspub {
    mf_nats *n;
    coll__pub_counts *c;
    mf_jspub *pub;
    char subj_prefix[128]; /* "<prefix>.ticks." */
    pthread_t thread;
    int started;
    atomic_int stop;
    atomic_llong deadline; /* mono ms: the flush gives up then */
    atomic_llong held;
    pthread_mutex_t mu;
    pthread_cond_t cv_room;
    /* Guarded by mu. */
    js_batch *qhead, *qtail;
    size_t queued, cap;
    int room_waiters;
};

/* ---- workers: encode and queue ---------------------------------------------------------- */

int coll__msg_id_from_json(const mf_tick *t,
                           const char *json,
                           int json_len,
                           char *buf,
                           size_t size) {
    static const char key[] = "\"price\":";
    const char *price, *pend;
    char *p = buf, *end = buf + size - 1; /* room for the NUL */
    if (t->has_id || size == 0) return mf_tick_msg_id(t, buf, size);
    price = memmem(json, (size_t)json_len, key, sizeof(key) - 1);
    if (price == NULL) return mf_tick_msg_id(t, buf, size);
    price += sizeof(key) - 1;
    pend = memchr(price, ',', (size_t)(json + json_len - price));
    if (pend == NULL) return mf_tick_msg_id(t, buf, size);
    if (mf_put_str(&p, end, t->exchange) || mf_put(&p, end, ":", 1) ||
        mf_put_str(&p, end, t->symbol) || mf_put(&p, end, ":", 1) || mf_put_i64(&p, end, t->ts) ||
        mf_put(&p, end, ":", 1) || mf_put(&p, end, price, (size_t)(pend - price)))
        return -1;
    *p = '\0';
    return (int)(p - buf);
}

/* Appends "subj\0id\0json\0" for t at buf+*used. Returns 0, or -1 when it cannot be encoded.
 * The JSON goes first (after the subject) so the Msg-Id can reuse its price text; the id is
 * then moved in front of it. */
static int encode_one(coll__jspub *j, const mf_tick *t, char *buf, size_t *used, js_rec *r) {
    char *p = buf + *used, id[ID_MAX];
    int len, idlen;
    if ((len = mf_subject_tick(p, SUBJ_MAX, j->subj_prefix, t)) < 0) return -1;
    r->subj = (uint16_t)len;
    p += r->subj + 1;
    if ((len = mf_tick_to_json(t, p, JSON_MAX)) < 0) return -1;
    if ((idlen = coll__msg_id_from_json(t, p, len, id, sizeof(id))) < 0) return -1;
    memmove(p + idlen + 1, p, (size_t)len);
    memcpy(p, id, (size_t)idlen);
    p[idlen] = '\0';
    p[idlen + 1 + len] = '\0';
    r->id = (uint16_t)idlen;
    r->json = (uint16_t)len;
    *used += (size_t)r->subj + r->id + r->json + 3;
    return 0;
}

static js_batch *encode_batch(coll__jspub *j, const mf_tick *t, size_t n) {
    char buf[COLL_JSPUB_BATCH * (SUBJ_MAX + ID_MAX + JSON_MAX + 3)];
    js_rec recs[COLL_JSPUB_BATCH];
    size_t used = 0, k = 0;
    long long bad = 0;
    js_batch *b;
    for (size_t i = 0; i < n && i < COLL_JSPUB_BATCH; i++) {
        if (encode_one(j, &t[i], buf, &used, &recs[k]) == 0)
            k++;
        else
            bad++;
    }
    if (bad) {
        coll__count(&j->c->errors, j->c->m_errors, bad);
        mf_log_ratelimited(MF_LOG_ERROR, 5000, "ticks not encodable for the bus: %lld", bad);
    }
    if (k == 0) return NULL;
    b = mf_xmalloc(sizeof(*b) + used);
    b->next = NULL;
    b->n = (uint32_t)k;
    memcpy(b->recs, recs, k * sizeof(*recs));
    memcpy(b->data, buf, used);
    return b;
}

static int has_room(const coll__jspub *j, size_t n) {
    return j->queued == 0 || j->queued + n <= j->cap;
}

/* Waits (mu held) until the queue has room for n, at most ms. */
static void wait_room(coll__jspub *j, size_t n, int ms) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    j->room_waiters++;
    while (!has_room(j, n) && !atomic_load(&j->stop) &&
           pthread_cond_timedwait(&j->cv_room, &j->mu, &dl) == 0) {
    }
    j->room_waiters--;
}

static void set_held(coll__jspub *j) {
    atomic_store(&j->held, (long long)j->queued);
    atomic_store(j->c->m_held, (long long)j->queued);
}

mf_status coll__jspub_push(coll__jspub *j, const mf_tick *t, size_t n) {
    js_batch *b = encode_batch(j, t, n);
    int full, up = 1;
    if (b == NULL) return MF_OK; /* nothing encodable: counted as errors */
    if (atomic_load(&j->held) + (long long)b->n > (long long)j->cap)
        up = mf_nats_connected(j->n); /* before mu: never call into nats.c under it */
    pthread_mutex_lock(&j->mu);
    if (!has_room(j, b->n) && up && !atomic_load(&j->stop)) wait_room(j, b->n, ROOM_WAIT_MS);
    full = !has_room(j, b->n) || atomic_load(&j->stop);
    if (!full) {
        if (j->qtail != NULL)
            j->qtail->next = b;
        else
            j->qhead = b;
        j->qtail = b;
        j->queued += b->n;
        set_held(j);
    }
    pthread_mutex_unlock(&j->mu);
    if (!full) {
        mf_jspub_wake_if_waiting(j->pub); /* after `held` rose: see mf_jspub_wait */
        return MF_OK;
    }
    coll__count(&j->c->dropped, j->c->m_dropped, b->n);
    mf_log_ratelimited(MF_LOG_WARN, 5000, "publish buffer full: ticks dropped total=%lld",
                       (long long)atomic_load(&j->c->dropped));
    free(b);
    return MF_ERR_FULL;
}

/* ---- the publisher thread ----------------------------------------------------------------- */

static void publish_batches(coll__jspub *j, js_batch *list, int64_t now) {
    while (list != NULL) {
        js_batch *b = list;
        const char *p = b->data;
        list = b->next;
        for (uint32_t i = 0; i < b->n; i++) {
            const js_rec *r = &b->recs[i];
            mf_jspub_msg m;
            m.subject = p;
            m.msg_id = p + r->subj + 1;
            m.data = m.msg_id + r->id + 1;
            m.len = r->json;
            mf_jspub_send(j->pub, &m, NULL, now); /* room was checked: MF_OK or counted */
            p = m.data + r->json + 1;
        }
        free(b);
    }
}

/* Adds what the publisher counted to the collector's counters. */
static void take_counts(coll__jspub *j) {
    mf_jspub_counts d = {0};
    mf_jspub_take_counts(j->pub, &d);
    if (d.sent) coll__count(&j->c->published, j->c->m_published, d.sent);
    if (d.stored) coll__count(&j->c->acked, j->c->m_acked, d.stored);
    if (d.duplicates) atomic_fetch_add(&j->c->duplicates, d.duplicates);
    if (d.resent) coll__count(&j->c->retried, j->c->m_retried, d.resent);
    if (d.refused) coll__count(&j->c->errors, j->c->m_errors, d.refused);
}

/* Takes (mu held) whole batches that fit in `room` ring slots. */
static js_batch *take_batches(coll__jspub *j, uint64_t room) {
    js_batch *list = NULL, **tailp = &list;
    size_t taken = 0;
    for (int k = 0; j->qhead != NULL && k < TAKE_MAX; k++) {
        js_batch *b = j->qhead;
        if (taken + b->n > room) break;
        j->qhead = b->next;
        b->next = NULL;
        *tailp = b;
        tailp = &b->next;
        taken += b->n;
    }
    if (j->qhead == NULL) j->qtail = NULL;
    if (taken == 0) return NULL;
    j->queued -= taken;
    set_held(j);
    if (j->room_waiters > 0) pthread_cond_broadcast(&j->cv_room);
    return list;
}

/* One round: new batches, answers and resends (mf_jspub_poll), and a sleep when there was
 * nothing: for want of work (a push wakes it) or, with work left but the ring full, for want
 * of PubAcks. Returns 1 when the flush is over (everything acknowledged, NATS away, or past
 * the deadline). */
static int round_once(coll__jspub *j) {
    int up = mf_nats_connected(j->n), stopping = atomic_load(&j->stop), blocked;
    js_batch *list = NULL;
    size_t answers;
    int64_t now;
    pthread_mutex_lock(&j->mu);
    if (up) list = take_batches(j, mf_jspub_room(j->pub));
    blocked = up && j->qhead != NULL;
    pthread_mutex_unlock(&j->mu);
    now = mf_mono_ms();
    answers = mf_jspub_poll(j->pub, now);
    if (list != NULL)
        publish_batches(j, list, now);
    else if (answers == 0)
        mf_jspub_wait(j->pub, IDLE_WAIT_MS, blocked, blocked || !up ? NULL : &j->held);
    take_counts(j);
    if (!stopping) return 0;
    return !up || now >= atomic_load(&j->deadline) ||
           (atomic_load(&j->held) == 0 && mf_jspub_inflight(j->pub) == 0);
}

static void *pub_main(void *arg) {
    coll__jspub *j = arg;
    mf_thread_name("pub-js");
    while (!round_once(j)) {
    }
    return NULL;
}

/* ---- life cycle ----------------------------------------------------------------------------- */

static void free_all(coll__jspub *j) {
    js_batch *b = j->qhead;
    while (b != NULL) {
        js_batch *next = b->next;
        free(b);
        b = next;
    }
    mf_jspub_destroy(j->pub);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv_room);
    free(j);
}

mf_status
coll__jspub_create(coll__jspub **out, mf_nats *n, const mf_config *cfg, coll__pub_counts *c) {
    coll__jspub *j = mf_xcalloc(1, sizeof(*j));
    mf_jspub_config pc = {
        .nc = mf_nats_conn(n),
        .slots = (size_t)cfg->collector.max_inflight,
        .ack_wait_ms = ACK_WAIT_MS,
        .retry_ms = NORESP_RETRY_MS,
        .scan_ms = SCAN_EVERY_MS,
    };
    pthread_condattr_t ca;
    mf_status s;
    j->n = n;
    j->c = c;
    if (mf_subject_base(j->subj_prefix, sizeof(j->subj_prefix), mf_nats_prefix(n),
                        MF_SUBJECT_TICKS) < 0) {
        free(j);
        return MF_ERR_CONFIG;
    }
    j->cap = (size_t)cfg->collector.buffer;
    if (pc.slots < COLL_JSPUB_BATCH) pc.slots = COLL_JSPUB_BATCH; /* one batch always fits */
    pc.wake_after = pc.slots / 4 < COLL_JSPUB_BATCH ? pc.slots / 4 : COLL_JSPUB_BATCH;
    pthread_mutex_init(&j->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv_room, &ca);
    pthread_condattr_destroy(&ca);
    s = mf_jspub_create(&j->pub, &pc);
    if (s == MF_OK && pthread_create(&j->thread, NULL, pub_main, j) != 0) s = MF_ERR;
    if (s != MF_OK) {
        free_all(j);
        return s;
    }
    j->started = 1;
    *out = j;
    return MF_OK;
}

void coll__jspub_flush(coll__jspub *j, int timeout_ms) {
    long long left, unacked;
    if (j == NULL || !j->started) return;
    atomic_store(&j->deadline, mf_mono_ms() + timeout_ms);
    atomic_store(&j->stop, 1);
    mf_jspub_wake(j->pub);
    pthread_mutex_lock(&j->mu);
    pthread_cond_broadcast(&j->cv_room);
    pthread_mutex_unlock(&j->mu);
    pthread_join(j->thread, NULL);
    j->started = 0;
    left = atomic_load(&j->held);
    unacked = mf_jspub_inflight(j->pub);
    if (left > 0) {
        coll__count(&j->c->dropped, j->c->m_dropped, left);
        mf_log(MF_LOG_WARN, "shutdown: %lld queued ticks not published", left);
    }
    if (unacked > 0) mf_log(MF_LOG_WARN, "shutdown: %lld publishes without PubAck", unacked);
}

void coll__jspub_destroy(coll__jspub *j) {
    if (j == NULL) return;
    coll__jspub_flush(j, 0);
    free_all(j);
}

long long coll__jspub_held(coll__jspub *j) {
    return atomic_load(&j->held);
}

long long coll__jspub_inflight(coll__jspub *j) {
    return mf_jspub_inflight(j->pub);
}
