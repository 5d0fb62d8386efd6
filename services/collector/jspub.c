/* jspub.c: JetStream publishing through a private PubAck inbox and a fixed in-flight ring.
 *
 * DESIGN
 * Why not js_PublishMsgAsync: in nats.c 3.4.1 it costs the collector ~14 us of CPU per tick
 * (a pending-ack hash entry, a timer and thread wake-ups per publish, each PubAck decoded into
 * structs), and its pending-ack map (natsStrHash_Remove) crashed under load in the aggregator.
 * Threads:
 *  - workers (coll__jspub_push): encode up to COLL_JSPUB_BATCH ticks (subject, Msg-Id, tick
 *    JSON) into one malloc'ed batch and append it to the queue under `mu`. The queue is
 *    bounded in ticks (collector.buffer): when full, a worker waits for room at most 200 ms
 *    while NATS is connected, not at all while it is away, then drops the batch (counted).
 *    It wakes the publisher only when that one sleeps for want of work.
 *  - "pub-js", the publisher thread, owns the ring: slots[seq % nslots] for seq in
 *    [head, tail), nslots = collector.max_inflight. It takes batches only while connected and
 *    the ring has room; for each tick it creates a natsMsg (reply "<inbox>.<seq>", header
 *    Nats-Msg-Id) and natsConnection_PublishMsg's it; the slot keeps the natsMsg until its
 *    PubAck comes. Every 100 ms it republishes the slots that had no PubAck for ACK_WAIT_MS
 *    (same natsMsg, same Msg-Id: the stream keeps one copy within its duplicate window).
 *  - nats.c's delivery thread of the inbox subscription (on_puback) only appends (seq,
 *    outcome) to `done` under `mu`; it wakes the publisher when that one waits for ring room
 *    and enough PubAcks have come to free it.
 * The reply names the sequence, not just the slot: a late PubAck for an earlier occupant of a
 * slot (a publish sent twice) cannot acknowledge the current one.
 * PubAck outcomes: {"stream":..,"seq":..[,"duplicate":true]}: acked; {"error":{..}}: counted
 * as an error, not retried (the server would refuse again), except code 503 (JetStream
 * unavailable for now: restarting, no leader) which is retried like a no-responders status
 * (no stream, leader moving), after NORESP_RETRY_MS. */
#include "jspub.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mf/log.h"
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

typedef enum js_outcome { JS_ACK, JS_DUP, JS_ERR, JS_NORESP } js_outcome;

typedef struct js_done {
    uint64_t seq;
    js_outcome out;
} js_done;

typedef struct js_slot {
    natsMsg *msg; /* NULL when free */
    uint64_t seq;
    int64_t sent_ms; /* 0: to be sent again at the next scan */
} js_slot;

struct coll__jspub {
    mf_nats *n;
    natsConnection *nc;
    coll__pub_counts *c;
    char subj_prefix[128]; /* "<prefix>.ticks." */
    char reply_prefix[96]; /* "<inbox>." */
    size_t reply_len;
    natsSubscription *sub;
    pthread_t thread;
    int started;
    atomic_int stop;
    atomic_llong deadline; /* mono ms: the flush gives up then */
    atomic_llong held, inflight;
    pthread_mutex_t mu;
    pthread_cond_t cv_pub, cv_room, cv_inbox;
    /* Guarded by mu. */
    js_batch *qhead, *qtail;
    size_t queued, cap;
    int idle;       /* the publisher sleeps for want of work */
    int wants_acks; /* the publisher sleeps for want of ring room */
    int room_waiters;
    int inbox_done;
    js_done *done;
    size_t ndone, done_cap, ack_wake;
    /* Publisher thread only. */
    js_slot *slots;
    uint64_t nslots, head, tail;
    js_done *work;
    size_t work_cap;
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

int coll__tick_subject(const char *prefix, const mf_tick *t, char *buf, size_t size) {
    char *p = buf, *end;
    if (size == 0) return -1;
    end = buf + size - 1;
    if (mf_put_str(&p, end, prefix) || mf_put_str(&p, end, t->exchange) ||
        mf_put(&p, end, ".", 1) || mf_put_str(&p, end, t->symbol))
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
    if ((len = coll__tick_subject(j->subj_prefix, t, p, SUBJ_MAX)) < 0) return -1;
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
        if (j->idle) {
            j->idle = 0;
            pthread_cond_signal(&j->cv_pub);
        }
    }
    pthread_mutex_unlock(&j->mu);
    if (!full) return MF_OK;
    coll__count(&j->c->dropped, j->c->m_dropped, b->n);
    mf_log_ratelimited(MF_LOG_WARN, 5000, "publish buffer full: ticks dropped total=%lld",
                       (long long)atomic_load(&j->c->dropped));
    free(b);
    return MF_ERR_FULL;
}

/* ---- the PubAck inbox (nats.c's delivery thread) ----------------------------------------- */

static js_outcome outcome(natsMsg *msg) {
    const char *data = natsMsg_GetData(msg);
    int len = natsMsg_GetDataLength(msg);
    if (natsMsg_IsNoResponders(msg) || data == NULL || len <= 0) return JS_NORESP;
    if (memmem(data, (size_t)len, "\"error\"", 7) != NULL) {
        /* 503: JetStream unavailable for now (restarting, no leader): retried. */
        int unavailable = memmem(data, (size_t)len, "\"code\":503", 10) != NULL;
        mf_log_ratelimited(MF_LOG_ERROR, 5000, "publish refused by JetStream (%s): %.*s",
                           unavailable ? "retrying" : "not retried", len > 200 ? 200 : len, data);
        return unavailable ? JS_NORESP : JS_ERR;
    }
    return memmem(data, (size_t)len, "\"duplicate\":true", 16) != NULL ? JS_DUP : JS_ACK;
}

static void on_puback(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    coll__jspub *j = closure;
    const char *subj = natsMsg_GetSubject(msg);
    const char *dot = subj != NULL ? strrchr(subj, '.') : NULL;
    js_done d;
    (void)nc, (void)sub;
    if (dot != NULL) {
        d.seq = strtoull(dot + 1, NULL, 10);
        d.out = outcome(msg);
        pthread_mutex_lock(&j->mu);
        if (j->ndone == j->done_cap) {
            j->done_cap = j->done_cap ? j->done_cap * 2 : 1024;
            j->done = mf_xrealloc(j->done, j->done_cap * sizeof(*j->done));
        }
        j->done[j->ndone++] = d;
        if (j->wants_acks && j->ndone >= j->ack_wake) {
            j->wants_acks = 0;
            pthread_cond_signal(&j->cv_pub);
        }
        pthread_mutex_unlock(&j->mu);
    }
    natsMsg_Destroy(msg);
}

static void on_inbox_complete(void *closure) {
    coll__jspub *j = closure;
    pthread_mutex_lock(&j->mu);
    j->inbox_done = 1;
    pthread_cond_broadcast(&j->cv_inbox);
    pthread_mutex_unlock(&j->mu);
}

/* ---- the publisher thread ----------------------------------------------------------------- */

static void free_slot(js_slot *s) {
    natsMsg_Destroy(s->msg);
    s->msg = NULL;
}

static void advance_head(coll__jspub *j) {
    while (j->head < j->tail && j->slots[j->head % j->nslots].msg == NULL) j->head++;
    atomic_store(&j->inflight, (long long)(j->tail - j->head));
}

static void apply_done(coll__jspub *j, const js_done *d, size_t n, int64_t now) {
    long long acked = 0, dups = 0, errors = 0;
    for (size_t i = 0; i < n; i++) {
        js_slot *s = &j->slots[d[i].seq % j->nslots];
        if (s->msg == NULL || s->seq != d[i].seq) continue; /* a PubAck of a copy sent twice */
        switch (d[i].out) {
        case JS_DUP:
            dups++;
            /* fall through */
        case JS_ACK:
            acked++;
            free_slot(s);
            break;
        case JS_ERR:
            errors++;
            free_slot(s);
            break;
        case JS_NORESP:
            if (s->sent_ms != 0) s->sent_ms = now - ACK_WAIT_MS + NORESP_RETRY_MS;
            break;
        }
    }
    if (acked) coll__count(&j->c->acked, j->c->m_acked, acked);
    if (dups) atomic_fetch_add(&j->c->duplicates, dups);
    if (errors) coll__count(&j->c->errors, j->c->m_errors, errors);
    advance_head(j);
}

/* "<prefix><seq>" without snprintf. */
static void reply_subject(const coll__jspub *j, uint64_t seq, char *buf) {
    char digits[24];
    int k = 0;
    memcpy(buf, j->reply_prefix, j->reply_len);
    do {
        digits[k++] = (char)('0' + seq % 10);
        seq /= 10;
    } while (seq > 0);
    for (int i = 0; i < k; i++) buf[j->reply_len + (size_t)i] = digits[k - 1 - i];
    buf[j->reply_len + (size_t)k] = '\0';
}

/* First send of one tick; takes the slot at tail. Returns 1 when handed to NATS. */
static int
send_new(coll__jspub *j, const char *subj, const char *id, const char *json, int len, int64_t now) {
    js_slot *s = &j->slots[j->tail % j->nslots];
    char reply[sizeof(j->reply_prefix) + 24];
    natsMsg *m = NULL;
    natsStatus ns;
    reply_subject(j, j->tail, reply);
    ns = natsMsg_Create(&m, subj, reply, json, len);
    if (ns == NATS_OK) ns = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
    if (ns != NATS_OK) {
        natsMsg_Destroy(m);
        coll__count(&j->c->errors, j->c->m_errors, 1);
        mf_log_ratelimited(MF_LOG_ERROR, 5000, "publish message not built: %s",
                           natsStatus_GetText(ns));
        return 0;
    }
    s->msg = m;
    s->seq = j->tail++;
    ns = natsConnection_PublishMsg(j->nc, m);
    s->sent_ms = ns == NATS_OK ? now : 0; /* else the next scan sends it again */
    return ns == NATS_OK;
}

static void publish_batches(coll__jspub *j, js_batch *list, int64_t now) {
    long long sent = 0;
    while (list != NULL) {
        js_batch *b = list;
        const char *p = b->data;
        list = b->next;
        for (uint32_t i = 0; i < b->n; i++) {
            const js_rec *r = &b->recs[i];
            const char *id = p + r->subj + 1, *json = id + r->id + 1;
            sent += send_new(j, p, id, json, r->json, now);
            p = json + r->json + 1;
        }
        free(b);
    }
    if (sent) coll__count(&j->c->published, j->c->m_published, sent);
    atomic_store(&j->inflight, (long long)(j->tail - j->head));
}

/* Sends again what had no PubAck for ACK_WAIT_MS, or failed to go out. */
static void retry_due(coll__jspub *j, int64_t now) {
    long long n = 0;
    for (uint64_t seq = j->head; seq < j->tail; seq++) {
        js_slot *s = &j->slots[seq % j->nslots];
        if (s->msg == NULL || (s->sent_ms != 0 && now - s->sent_ms < ACK_WAIT_MS)) continue;
        if (natsConnection_PublishMsg(j->nc, s->msg) != NATS_OK) break; /* next scan */
        s->sent_ms = now;
        n++;
    }
    if (n == 0) return;
    coll__count(&j->c->retried, j->c->m_retried, n);
    mf_log_ratelimited(MF_LOG_WARN, 5000, "publishes without PubAck sent again: %lld", n);
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

/* Swaps (mu held) the completions out into j->work. Returns how many. */
static size_t take_done(coll__jspub *j) {
    js_done *w = j->work;
    size_t n = j->ndone, cap = j->work_cap;
    j->work = j->done;
    j->work_cap = j->done_cap;
    j->done = w;
    j->done_cap = cap;
    j->ndone = 0;
    return n;
}

static void sleep_on(coll__jspub *j, int *flag) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_nsec += IDLE_WAIT_MS * 1000000L;
    if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    *flag = 1;
    pthread_cond_timedwait(&j->cv_pub, &j->mu, &dl);
    *flag = 0;
}

/* One round: completions, new batches, sleep when there was nothing. Returns 1 when the
 * flush is over (everything acknowledged, NATS away, or past the deadline). */
static int round_once(coll__jspub *j, int64_t *next_scan) {
    int up = mf_nats_connected(j->n), stopping = atomic_load(&j->stop);
    uint64_t room = j->nslots - (j->tail - j->head);
    js_batch *list = NULL;
    size_t ndone;
    int64_t now;
    pthread_mutex_lock(&j->mu);
    ndone = take_done(j);
    if (up) list = take_batches(j, room);
    if (ndone == 0 && list == NULL) sleep_on(j, j->qhead != NULL && up ? &j->wants_acks : &j->idle);
    pthread_mutex_unlock(&j->mu);
    now = mf_mono_ms();
    if (ndone) apply_done(j, j->work, ndone, now);
    if (list != NULL) publish_batches(j, list, now);
    if (up && now >= *next_scan) {
        *next_scan = now + SCAN_EVERY_MS;
        retry_due(j, now);
    }
    if (!stopping) return 0;
    return !up || now >= atomic_load(&j->deadline) ||
           (atomic_load(&j->held) == 0 && j->head == j->tail);
}

static void *pub_main(void *arg) {
    coll__jspub *j = arg;
    int64_t next_scan = 0;
    mf_thread_name("pub-js");
    while (!round_once(j, &next_scan)) {
    }
    return NULL;
}

/* ---- life cycle ----------------------------------------------------------------------------- */

static mf_status inbox_start(coll__jspub *j) {
    natsInbox *inbox = NULL;
    char subj[128];
    natsStatus ns = natsInbox_Create(&inbox);
    if (ns != NATS_OK) return mf_nats_fail(ns, "inbox");
    snprintf(j->reply_prefix, sizeof(j->reply_prefix), "%s.", (const char *)inbox);
    natsInbox_Destroy(inbox);
    j->reply_len = strlen(j->reply_prefix);
    snprintf(subj, sizeof(subj), "%s*", j->reply_prefix);
    ns = natsConnection_Subscribe(&j->sub, j->nc, subj, on_puback, j);
    if (ns == NATS_OK) ns = natsSubscription_SetPendingLimits(j->sub, -1, -1);
    if (ns == NATS_OK) ns = natsSubscription_SetOnCompleteCB(j->sub, on_inbox_complete, j);
    return ns == NATS_OK ? MF_OK : mf_nats_fail(ns, "PubAck inbox subscribe");
}

/* Unsubscribes and waits (bounded) until the delivery thread is done with j. */
static int inbox_stop(coll__jspub *j) {
    struct timespec dl;
    int done;
    if (j->sub == NULL) return 1;
    natsSubscription_Unsubscribe(j->sub);
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += 2;
    pthread_mutex_lock(&j->mu);
    while (!j->inbox_done && pthread_cond_timedwait(&j->cv_inbox, &j->mu, &dl) == 0) {
    }
    done = j->inbox_done;
    pthread_mutex_unlock(&j->mu);
    natsSubscription_Destroy(j->sub);
    j->sub = NULL;
    return done;
}

static void sync_init(coll__jspub *j) {
    pthread_condattr_t ca;
    pthread_mutex_init(&j->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv_pub, &ca);
    pthread_cond_init(&j->cv_room, &ca);
    pthread_cond_init(&j->cv_inbox, &ca);
    pthread_condattr_destroy(&ca);
}

static void free_all(coll__jspub *j) {
    js_batch *b = j->qhead;
    while (b != NULL) {
        js_batch *next = b->next;
        free(b);
        b = next;
    }
    for (uint64_t i = 0; i < j->nslots; i++) natsMsg_Destroy(j->slots[i].msg);
    free(j->slots);
    free(j->done);
    free(j->work);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv_pub);
    pthread_cond_destroy(&j->cv_room);
    pthread_cond_destroy(&j->cv_inbox);
    free(j);
}

mf_status
coll__jspub_create(coll__jspub **out, mf_nats *n, const mf_config *cfg, coll__pub_counts *c) {
    coll__jspub *j = mf_xcalloc(1, sizeof(*j));
    mf_status s;
    j->n = n;
    j->nc = mf_nats_conn(n);
    j->c = c;
    if (mf_nats_subject(n, j->subj_prefix, sizeof(j->subj_prefix), "ticks.") != 0) {
        free(j);
        return MF_ERR_CONFIG;
    }
    j->cap = (size_t)cfg->collector.buffer;
    j->nslots = (uint64_t)cfg->collector.max_inflight;
    if (j->nslots < COLL_JSPUB_BATCH) j->nslots = COLL_JSPUB_BATCH; /* one batch always fits */
    j->ack_wake = j->nslots / 4 < COLL_JSPUB_BATCH ? j->nslots / 4 : COLL_JSPUB_BATCH;
    j->slots = mf_xcalloc((size_t)j->nslots, sizeof(*j->slots));
    sync_init(j);
    s = inbox_start(j);
    if (s == MF_OK && pthread_create(&j->thread, NULL, pub_main, j) != 0) s = MF_ERR;
    if (s != MF_OK) {
        if (inbox_stop(j)) free_all(j); /* else its delivery thread may still run: leave j */
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
    pthread_mutex_lock(&j->mu);
    pthread_cond_broadcast(&j->cv_pub);
    pthread_cond_broadcast(&j->cv_room);
    pthread_mutex_unlock(&j->mu);
    pthread_join(j->thread, NULL);
    j->started = 0;
    left = atomic_load(&j->held);
    unacked = atomic_load(&j->inflight);
    if (left > 0) {
        coll__count(&j->c->dropped, j->c->m_dropped, left);
        mf_log(MF_LOG_WARN, "shutdown: %lld queued ticks not published", left);
    }
    if (unacked > 0) mf_log(MF_LOG_WARN, "shutdown: %lld publishes without PubAck", unacked);
}

void coll__jspub_destroy(coll__jspub *j) {
    if (j == NULL) return;
    coll__jspub_flush(j, 0);
    if (inbox_stop(j)) free_all(j); /* else its delivery thread may still run: leave j */
}

long long coll__jspub_held(coll__jspub *j) {
    return atomic_load(&j->held);
}

long long coll__jspub_inflight(coll__jspub *j) {
    return atomic_load(&j->inflight);
}
