/* jspub.c: the JetStream publisher (see mf/jspub.h).
 *
 * DESIGN
 *   The ring: slots[seq % nslots] for seq in [head, tail); a slot is live from its send to
 *   its final outcome. head moves past slots that are no longer live, so the ring frees in
 *   order of sending but a late answer never holds up the ones behind it for long: room is
 *   nslots - (tail - head).
 *   Answers: the inbox delivery thread classifies each one and appends (seq, outcome) to
 *   `ans` under `mu`; the owner swaps that list with `work` in mf_jspub_poll (one lock per
 *   poll, not per answer) and applies it. An answer whose seq is no longer in its slot is
 *   the answer of a copy sent twice: ignored.
 *   Resends: each live slot has a due time (send + ack_wait_ms; answer RETRYABLE + retry_ms;
 *   0 when nats.c refused the send); the owner scans [head, tail) every scan_ms while
 *   connected and sends again what is due, stopping at the first refused send. */
#include "mf/jspub.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mf/log.h"
#include "mf/nats_util.h"
#include "mf/util.h"

#define INBOX_STOP_WAIT_S 2

typedef struct js_slot {
    uint64_t seq;
    void *user;
    natsMsg *msg;   /* kept for resends when there is no render callback */
    int64_t due_ms; /* monotonic: sent again from then on; 0 = at the next scan */
    int live;
} js_slot;

typedef struct js_answer {
    uint64_t seq;
    mf_jspub_outcome out;
} js_answer;

struct mf_jspub {
    mf_jspub_config cfg;
    mf_jspub_transport tr;
    natsSubscription *sub;
    char reply_prefix[96]; /* "<inbox>." */
    size_t reply_len;
    pthread_mutex_t mu;
    pthread_cond_t cv, cv_inbox;
    atomic_int waiting; /* the owner is in (or entering) mf_jspub_wait: 1, 2 watching work */
    atomic_llong inflight;
    /* Guarded by mu. */
    js_answer *ans;
    size_t nans, ans_cap;
    int for_answers, kicked, inbox_done;
    /* Owner thread only. */
    js_slot *slots;
    uint64_t nslots, head, tail;
    js_answer *work;
    size_t work_cap;
    int64_t next_scan;
    mf_jspub_counts counts;
};

/* ---- classification ------------------------------------------------------------------------ */

const char *mf_jspub_outcome_str(mf_jspub_outcome o) {
    switch (o) {
    case MF_JSPUB_STORED: return "stored";
    case MF_JSPUB_DUPLICATE: return "duplicate";
    case MF_JSPUB_RETRYABLE: return "retryable";
    case MF_JSPUB_REFUSED: return "refused";
    case MF_JSPUB_ABANDONED: return "abandoned";
    }
    return "unknown";
}

/* The JetStream error code of an {"error":{"code":N,..}} answer (nats-server writes compact
 * JSON), or -1. */
static long error_code(const char *data, size_t len) {
    static const char key[] = "\"code\":";
    const char *p = memmem(data, len, key, sizeof(key) - 1), *end = data + len;
    long v = 0;
    if (p == NULL) return -1;
    p += sizeof(key) - 1;
    if (p == end || *p < '0' || *p > '9') return -1;
    for (; p < end && *p >= '0' && *p <= '9' && v < 100000; p++) v = v * 10 + (*p - '0');
    return v;
}

mf_jspub_outcome mf_jspub_classify(const char *data, int len, int no_responders) {
    if (no_responders || data == NULL || len <= 0) return MF_JSPUB_RETRYABLE;
    if (memmem(data, (size_t)len, "\"error\"", 7) != NULL)
        return error_code(data, (size_t)len) == 503 ? MF_JSPUB_RETRYABLE : MF_JSPUB_REFUSED;
    return memmem(data, (size_t)len, "\"duplicate\":true", 16) != NULL ? MF_JSPUB_DUPLICATE
                                                                       : MF_JSPUB_STORED;
}

/* ---- the inbox (nats.c's delivery thread) ------------------------------------------------- */

void mf_jspub_deliver(mf_jspub *p, natsMsg *reply) {
    const char *subj = natsMsg_GetSubject(reply), *data = natsMsg_GetData(reply);
    const char *dot = subj != NULL ? strrchr(subj, '.') : NULL;
    int len = natsMsg_GetDataLength(reply);
    js_answer a;
    if (subj == NULL) goto done;
    a.seq = strtoull(dot != NULL ? dot + 1 : subj, NULL, 10);
    a.out = mf_jspub_classify(data, len, natsMsg_IsNoResponders(reply));
    if (a.out != MF_JSPUB_STORED && a.out != MF_JSPUB_DUPLICATE && len > 0)
        mf_log_ratelimited(MF_LOG_ERROR, 5000, "publish refused by JetStream (%s): %.*s",
                           a.out == MF_JSPUB_RETRYABLE ? "retrying" : "not retried",
                           len > 200 ? 200 : len, data);
    pthread_mutex_lock(&p->mu);
    if (p->nans == p->ans_cap) {
        p->ans_cap = p->ans_cap ? p->ans_cap * 2 : 1024;
        p->ans = mf_xrealloc(p->ans, p->ans_cap * sizeof(*p->ans));
    }
    p->ans[p->nans++] = a;
    if (p->for_answers && p->cfg.wake_after > 0 && p->nans >= p->cfg.wake_after) {
        p->for_answers = 0;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
done:
    natsMsg_Destroy(reply);
}

static void on_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)nc, (void)sub;
    mf_jspub_deliver(closure, msg);
}

static void on_inbox_complete(void *closure) {
    mf_jspub *p = closure;
    pthread_mutex_lock(&p->mu);
    p->inbox_done = 1;
    pthread_cond_broadcast(&p->cv_inbox);
    pthread_mutex_unlock(&p->mu);
}

static mf_status inbox_start(mf_jspub *p) {
    natsInbox *inbox = NULL;
    char subj[128];
    natsStatus ns = natsInbox_Create(&inbox);
    if (ns != NATS_OK) return mf_nats_fail(ns, "inbox");
    snprintf(p->reply_prefix, sizeof(p->reply_prefix), "%s.", (const char *)inbox);
    natsInbox_Destroy(inbox);
    p->reply_len = strlen(p->reply_prefix);
    snprintf(subj, sizeof(subj), "%s*", p->reply_prefix);
    ns = natsConnection_Subscribe(&p->sub, p->cfg.nc, subj, on_reply, p);
    if (ns == NATS_OK) ns = natsSubscription_SetPendingLimits(p->sub, -1, -1);
    if (ns == NATS_OK) ns = natsSubscription_SetOnCompleteCB(p->sub, on_inbox_complete, p);
    return ns == NATS_OK ? MF_OK : mf_nats_fail(ns, "PubAck inbox subscribe");
}

/* Unsubscribes and waits (bounded) until the delivery thread is done with p. */
static int inbox_stop(mf_jspub *p) {
    struct timespec dl;
    int done;
    if (p->sub == NULL) return 1;
    natsSubscription_Unsubscribe(p->sub);
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += INBOX_STOP_WAIT_S;
    pthread_mutex_lock(&p->mu);
    while (!p->inbox_done && pthread_cond_timedwait(&p->cv_inbox, &p->mu, &dl) == 0) {
    }
    done = p->inbox_done;
    pthread_mutex_unlock(&p->mu);
    natsSubscription_Destroy(p->sub);
    p->sub = NULL;
    return done;
}

/* ---- sending ------------------------------------------------------------------------------- */

static natsStatus nats_publish(void *closure, natsMsg *m) {
    return natsConnection_PublishMsg(closure, m);
}

static int nats_connected(void *closure) {
    return natsConnection_Status(closure) == NATS_CONN_STATUS_CONNECTED;
}

/* "<prefix><seq>" without snprintf (once per message). */
static void reply_subject(const mf_jspub *p, uint64_t seq, char *buf) {
    char digits[24];
    int k = 0;
    memcpy(buf, p->reply_prefix, p->reply_len);
    do {
        digits[k++] = (char)('0' + seq % 10);
        seq /= 10;
    } while (seq > 0);
    for (int i = 0; i < k; i++) buf[p->reply_len + (size_t)i] = digits[k - 1 - i];
    buf[p->reply_len + (size_t)k] = '\0';
}

static natsStatus build(const mf_jspub *p, uint64_t seq, const mf_jspub_msg *m, natsMsg **out) {
    char reply[sizeof(p->reply_prefix) + 24];
    natsStatus ns;
    reply_subject(p, seq, reply);
    *out = NULL;
    ns = natsMsg_Create(out, m->subject, reply, m->data, m->len);
    if (ns == NATS_OK) ns = natsMsgHeader_Set(*out, "Nats-Msg-Id", m->msg_id);
    if (ns != NATS_OK) {
        natsMsg_Destroy(*out);
        *out = NULL;
    }
    return ns;
}

/* One transmission of msg for slot s; msg is kept in the slot or freed (render mode). */
static natsStatus transmit(mf_jspub *p, js_slot *s, natsMsg *msg, int64_t now) {
    natsStatus ns = p->tr.publish(p->tr.closure, msg);
    if (ns == NATS_OK) {
        s->due_ms = now + p->cfg.ack_wait_ms;
    } else {
        s->due_ms = 0;
        p->counts.send_errors++;
    }
    if (p->cfg.render != NULL) {
        natsMsg_Destroy(msg);
        msg = NULL;
    }
    s->msg = msg;
    return ns;
}

size_t mf_jspub_room(const mf_jspub *p) {
    return (size_t)(p->nslots - (p->tail - p->head));
}

mf_status mf_jspub_send(mf_jspub *p, const mf_jspub_msg *m, void *user, int64_t now_ms) {
    js_slot *s;
    natsMsg *msg = NULL;
    natsStatus ns;
    if (p->tail - p->head == p->nslots) return MF_ERR_FULL;
    ns = build(p, p->tail, m, &msg);
    if (ns != NATS_OK) {
        p->counts.refused++;
        mf_log_ratelimited(MF_LOG_ERROR, 5000, "publish message not built subject=%s: %s",
                           m->subject, natsStatus_GetText(ns));
        return MF_ERR_NATS;
    }
    s = &p->slots[p->tail % p->nslots];
    s->seq = p->tail++;
    s->user = user;
    s->live = 1;
    if (transmit(p, s, msg, now_ms) == NATS_OK) p->counts.sent++;
    atomic_store_explicit(&p->inflight, (long long)(p->tail - p->head), memory_order_relaxed);
    return MF_OK;
}

/* ---- completions and resends ---------------------------------------------------------------- */

static void finish(mf_jspub *p, js_slot *s, mf_jspub_outcome out) {
    void *user = s->user;
    natsMsg_Destroy(s->msg);
    s->msg = NULL;
    s->user = NULL;
    s->live = 0;
    if (p->cfg.done != NULL) p->cfg.done(p->cfg.closure, user, out);
}

static void advance_head(mf_jspub *p) {
    while (p->head < p->tail && !p->slots[p->head % p->nslots].live) p->head++;
    atomic_store_explicit(&p->inflight, (long long)(p->tail - p->head), memory_order_relaxed);
}

static void apply(mf_jspub *p, const js_answer *a, int64_t now) {
    js_slot *s = &p->slots[a->seq % p->nslots];
    if (!s->live || s->seq != a->seq) return; /* the answer to a copy sent twice */
    switch (a->out) {
    case MF_JSPUB_DUPLICATE: p->counts.duplicates++; /* fall through */
    case MF_JSPUB_STORED:
        p->counts.stored++;
        finish(p, s, a->out);
        break;
    case MF_JSPUB_RETRYABLE:
        p->counts.retryable++;
        if (s->due_ms != 0) s->due_ms = now + p->cfg.retry_ms;
        break;
    case MF_JSPUB_REFUSED:
    case MF_JSPUB_ABANDONED:
        p->counts.refused++;
        finish(p, s, MF_JSPUB_REFUSED);
        break;
    }
}

/* Sends slot s again: its kept natsMsg, or a new rendering. Returns 0 when nats.c refused. */
static int resend(mf_jspub *p, js_slot *s, int64_t now) {
    natsMsg *msg = s->msg;
    if (p->cfg.render != NULL) {
        mf_jspub_msg m;
        if (p->cfg.render(p->cfg.closure, s->user, &m) != 0 ||
            build(p, s->seq, &m, &msg) != NATS_OK) {
            p->counts.refused++;
            finish(p, s, MF_JSPUB_REFUSED);
            return 1;
        }
    }
    if (transmit(p, s, msg, now) != NATS_OK) return 0;
    p->counts.resent++;
    return 1;
}

static void resend_due(mf_jspub *p, int64_t now) {
    long long before = p->counts.resent;
    for (uint64_t seq = p->head; seq < p->tail; seq++) {
        js_slot *s = &p->slots[seq % p->nslots];
        if (!s->live || (s->due_ms != 0 && now < s->due_ms)) continue;
        if (!resend(p, s, now)) break; /* NATS trouble: the next scan */
    }
    if (p->counts.resent > before)
        mf_log_ratelimited(MF_LOG_WARN, 5000, "publishes without PubAck sent again: %lld",
                           p->counts.resent - before);
}

size_t mf_jspub_poll(mf_jspub *p, int64_t now_ms) {
    js_answer *w = p->work;
    size_t n, cap = p->work_cap;
    pthread_mutex_lock(&p->mu);
    n = p->nans;
    p->work = p->ans;
    p->work_cap = p->ans_cap;
    p->ans = w;
    p->ans_cap = cap;
    p->nans = 0;
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < n; i++) apply(p, &p->work[i], now_ms);
    if (now_ms >= p->next_scan && p->tail > p->head && p->tr.connected(p->tr.closure)) {
        p->next_scan = now_ms + p->cfg.scan_ms;
        resend_due(p, now_ms);
    }
    advance_head(p);
    return n;
}

void mf_jspub_wait(mf_jspub *p, int timeout_ms, int for_answers, const atomic_llong *work) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&p->mu);
    /* Declared before `work` is read (see mf_jspub_wake_if_waiting); 2: watching `work`. */
    atomic_store(&p->waiting, work != NULL ? 2 : 1);
    p->for_answers = for_answers;
    if (!p->kicked && (work == NULL || atomic_load(work) <= 0) &&
        !(for_answers && p->cfg.wake_after > 0 && p->nans >= p->cfg.wake_after))
        pthread_cond_timedwait(&p->cv, &p->mu, &dl);
    p->for_answers = 0;
    p->kicked = 0;
    atomic_store(&p->waiting, 0);
    pthread_mutex_unlock(&p->mu);
}

void mf_jspub_wake(mf_jspub *p) {
    pthread_mutex_lock(&p->mu);
    p->kicked = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void mf_jspub_wake_if_waiting(mf_jspub *p) {
    if (atomic_load(&p->waiting) == 2) mf_jspub_wake(p);
}

void mf_jspub_take_counts(mf_jspub *p, mf_jspub_counts *add) {
    add->sent += p->counts.sent;
    add->resent += p->counts.resent;
    add->stored += p->counts.stored;
    add->duplicates += p->counts.duplicates;
    add->retryable += p->counts.retryable;
    add->refused += p->counts.refused;
    add->send_errors += p->counts.send_errors;
    memset(&p->counts, 0, sizeof(p->counts));
}

long long mf_jspub_inflight(const mf_jspub *p) {
    return atomic_load(&p->inflight);
}

/* ---- life cycle ----------------------------------------------------------------------------- */

static void sync_init(mf_jspub *p) {
    pthread_condattr_t ca;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_cond_init(&p->cv_inbox, &ca);
    pthread_condattr_destroy(&ca);
}

static void free_all(mf_jspub *p) {
    free(p->slots);
    free(p->ans);
    free(p->work);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->cv_inbox);
    free(p);
}

mf_status mf_jspub_create(mf_jspub **out, const mf_jspub_config *cfg) {
    mf_jspub *p;
    mf_status s = MF_OK;
    if (out == NULL || cfg == NULL || cfg->slots == 0 ||
        (cfg->nc == NULL && cfg->transport == NULL))
        return MF_ERR_INVALID_ARG;
    p = mf_xcalloc(1, sizeof(*p));
    p->cfg = *cfg;
    if (cfg->transport != NULL) {
        p->tr = *cfg->transport;
    } else {
        p->tr.publish = nats_publish;
        p->tr.connected = nats_connected;
        p->tr.closure = cfg->nc;
    }
    p->nslots = cfg->slots;
    p->slots = mf_xcalloc(cfg->slots, sizeof(*p->slots));
    sync_init(p);
    if (cfg->nc != NULL) s = inbox_start(p);
    if (s != MF_OK) {
        if (inbox_stop(p)) free_all(p); /* else its delivery thread may still run: leave p */
        return s;
    }
    *out = p;
    return MF_OK;
}

void mf_jspub_destroy(mf_jspub *p) {
    int inbox_done;
    if (p == NULL) return;
    inbox_done = inbox_stop(p);
    for (uint64_t seq = p->head; seq < p->tail; seq++) {
        js_slot *s = &p->slots[seq % p->nslots];
        if (s->live) finish(p, s, MF_JSPUB_ABANDONED);
    }
    p->head = p->tail;
    atomic_store(&p->inflight, 0);
    if (inbox_done) free_all(p); /* else its delivery thread may still run: leave p */
}
