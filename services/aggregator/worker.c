/* worker.c: one aggregator worker: its windows, the publishing of its partials and the acks
 * of the ticks they cover.
 *
 * Thread model: the worker thread owns its agg_windows, its list of publishes (pend, in rollup
 * seq order) and its JetStream publisher (mf_jspub, common/src/jspub.c: private PubAck inbox,
 * fixed in-flight ring, one outcome classification, resends with the same Nats-Msg-Id). It pops
 * tick batches from its queue, and every cycle (20 ms) flushes due partials, publishes the
 * conflated latest and expires idle keys. The inbox's delivery thread (nats.c) only records
 * answers for the publisher; the worker applies them (mf_jspub_poll), and the completion
 * callback (on_pub_done, on this thread) is where the ticks of a stored partial are acked
 * ("+ACK" to each reply subject, what natsMsg_Ack sends).
 * The aggregator's policy on top of the publisher's rules (docs/design.md section 4):
 *   - a partial's JSON is rendered at each send from the compact partial (~300 B held per
 *     publish in flight instead of the JSON and a full rollup);
 *   - what does not fit in the ring (AGG_PUB_SLOTS in flight) waits in pend and goes out as
 *     the ring frees;
 *   - a partial the stream refuses (a JetStream error other than 503) is published again at
 *     the next slow cycle (every second), for ever: its ticks stay unacked, nothing is lost,
 *     and aggregator_publish_errors_total shows it.
 *   - a barrier publishes nothing: its acks go once every earlier publish is stored. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator_internal.h"
#include "mf/jspub.h"
#include "mf/jspull.h"
#include "mf/log.h"
#include "mf/subject.h"
#include "mf/util.h"

#define CYCLE_MS 20
#define RETRY_AFTER_MS 5000 /* no PubAck for this long: published again */
#define SLOW_MS 1000        /* expiry, resends of refused partials */
#define AGG_PUB_SLOTS 16384 /* publishes in flight per worker */
#define STOP_WAIT_MS 10000
#define QUEUE_BATCHES 16

/* A partial published (or to publish) and the ticks to ack once it is stored. A barrier
 * publishes nothing: its acks go once every earlier publish is stored. */
typedef struct agg_pub {
    uint64_t seq;
    int done;
    int barrier;
    int waiting;       /* not in the publisher's ring: to be sent (again) */
    int sent;          /* handed to the publisher at least once */
    int refused;       /* waiting since the stream refused it: sent again by the slow cycle */
    agg_partial *part; /* freed once done */
} agg_pub;

struct agg_worker {
    agg_shared *sh;
    int index;
    pthread_t thread;
    mf_queue *q;
    agg_windows *win;
    mf_jspub *pub; /* transport=jetstream */
    /* The last rendering (render_pub), valid until the next one. */
    char subject[160], id[96];
    char *json;
    /* Publishes not yet done, in seq order: pend[head .. head+count). */
    agg_pub **pend;
    size_t head, count, cap;
    size_t nwaiting;   /* of them waiting */
    uint64_t wait_seq; /* no waiting publish has a lower seq */
    int64_t next_cycle, next_slow;
    uint8_t *seen; /* SEEN_BITS bits, jetstream only */
    uint64_t seen_hi;
};

/* ---- batches --------------------------------------------------------------------------- */

agg_batch *agg_batch_new(size_t cap) {
    agg_batch *b = mf_xcalloc(1, sizeof(*b));
    b->cap = cap;
    b->items = mf_xmalloc(cap * sizeof(agg_item));
    return b;
}

void agg_batch_free(agg_batch *b) {
    if (b == NULL) return;
    free(b->items);
    free(b->arena);
    free(b);
}

void agg_batch_push(agg_batch *b, const mf_tick *t, const char *ack, size_t ack_len) {
    agg_item *it;
    if (b->n == b->cap) {
        b->cap *= 2;
        b->items = mf_xrealloc(b->items, b->cap * sizeof(agg_item));
    }
    it = &b->items[b->n++];
    it->tick = *t;
    it->ack_off = UINT32_MAX;
    it->sseq = 0;
    it->delivered = 0;
    if (ack == NULL || ack_len == 0) return;
    agg_parse_ack_subject(ack, &it->sseq, &it->delivered);
    if (b->alen + ack_len + 1 > b->acap) {
        size_t cap = b->acap ? b->acap * 2 : 16384;
        while (cap < b->alen + ack_len + 1) cap *= 2;
        b->arena = mf_xrealloc(b->arena, cap);
        b->acap = cap;
    }
    memcpy(b->arena + b->alen, ack, ack_len);
    b->arena[b->alen + ack_len] = '\0';
    it->ack_off = (uint32_t)b->alen;
    b->alen += ack_len + 1;
}

int agg_parse_ack_subject(const char *s, uint64_t *sseq, uint32_t *delivered) {
    const char *tok[12];
    int n = 0;
    if (strncmp(s, "$JS.ACK.", 8) != 0) return -1;
    for (const char *p = s + 8; n < 12; n++) {
        tok[n] = p;
        p = strchr(p, '.');
        if (p == NULL) {
            n++;
            break;
        }
        p++;
    }
    if (n == 7) { /* stream consumer delivered sseq dseq ts pending */
        *delivered = (uint32_t)strtoul(tok[2], NULL, 10);
        *sseq = strtoull(tok[3], NULL, 10);
        return 0;
    }
    if (n >= 9) { /* domain acchash stream consumer delivered sseq ... */
        *delivered = (uint32_t)strtoul(tok[4], NULL, 10);
        *sseq = strtoull(tok[5], NULL, 10);
        return 0;
    }
    return -1;
}

/* ---- stream sequences seen ------------------------------------------------------------- */

/* A ring of bits over the last SEEN_BITS stream sequences this worker took: a redelivered
 * copy of a tick it already counted (the server may redeliver one twice) is recognised and
 * not counted again. Older sequences fall out of the window. */
#define SEEN_BITS (1u << 24)

static int seen_test_set(agg_worker *w, uint64_t sseq) {
    uint64_t i;
    if (sseq + SEEN_BITS <= w->seen_hi) return 0; /* too old to know */
    if (sseq > w->seen_hi) {
        uint64_t from = w->seen_hi + 1;
        if (sseq - w->seen_hi >= SEEN_BITS) from = sseq - SEEN_BITS + 1;
        for (uint64_t k = from; k <= sseq; k++) {
            i = k & (SEEN_BITS - 1);
            w->seen[i >> 3] &= (uint8_t) ~(1u << (i & 7));
        }
        w->seen_hi = sseq;
    }
    i = sseq & (SEEN_BITS - 1);
    if (w->seen[i >> 3] & (1u << (i & 7))) return 1;
    w->seen[i >> 3] |= (uint8_t)(1u << (i & 7));
    return 0;
}

/* ---- acks and publishes ---------------------------------------------------------------- */

void agg_ack_subject(agg_shared *sh, const char *subject) {
    mf_jspull_ack(sh->nc, subject);
}

/* Acks the ticks of a stored partial, marks it done and frees it. */
static void pub_done(agg_worker *w, agg_pub *p) {
    char buf[AGG_ACK_MAX];
    const char *subject;
    size_t pos = 0;
    long long n = (long long)p->part->acks.n;
    while ((subject = agg_partial_ack_next(p->part, &pos, buf)) != NULL)
        agg_ack_subject(w->sh, subject);
    atomic_fetch_add(w->sh->c.acked, n);
    atomic_fetch_sub(w->sh->c.pending_acks, n);
    agg_partial_free(p->part);
    p->part = NULL;
    p->done = 1;
}

static void pub_free(agg_pub *p) {
    if (p == NULL) return;
    agg_partial_free(p->part);
    free(p);
}

/* Renders p's subject, Msg-Id and JSON into w (valid until the next call). */
static void render_pub(agg_worker *w, const agg_pub *p, mf_jspub_msg *m) {
    mf_rollup r;
    size_t json_len = 0;
    agg_partial_rollup(p->part, &r);
    snprintf(r.producer, sizeof(r.producer), "%s", w->sh->producer);
    r.seq = p->seq;
    free(w->json);
    w->json = mf_rollup_to_json(&r, &json_len);
    MF_ASSERT(w->json != NULL);
    /* Both tokens come from validated ticks: a subject that cannot be built is a bug. */
    MF_ASSERT(mf_subject_rollup(w->subject, sizeof(w->subject), w->sh->prefix,
                                mf_window_name(r.window), r.exchange, r.symbol) >= 0);
    snprintf(w->id, sizeof(w->id), "%s:%" PRIu64, w->sh->producer, p->seq);
    m->subject = w->subject;
    m->msg_id = w->id;
    m->data = w->json;
    m->len = (int)json_len;
}

static int on_pub_render(void *closure, void *user, mf_jspub_msg *out) {
    render_pub(closure, user, out);
    return 0;
}

static void set_waiting(agg_worker *w, agg_pub *p) {
    if (p->waiting) return;
    p->waiting = 1;
    w->nwaiting++;
    if (p->seq < w->wait_seq) w->wait_seq = p->seq;
}

/* The publisher's completion of p (this thread): ack its ticks once stored. */
static void on_pub_done(void *closure, void *user, mf_jspub_outcome out) {
    agg_worker *w = closure;
    agg_pub *p = user;
    if (out == MF_JSPUB_STORED || out == MF_JSPUB_DUPLICATE) {
        pub_done(w, p);
        return;
    }
    p->refused = out == MF_JSPUB_REFUSED; /* again at the next slow cycle */
    set_waiting(w, p);                    /* abandoned (stopping): its ticks are redelivered */
}

/* Core: fire and forget (nothing to ack). */
static void send_core(agg_worker *w, agg_pub *p) {
    mf_jspub_msg m;
    natsMsg *msg = NULL;
    natsStatus ns;
    render_pub(w, p, &m);
    ns = natsMsg_Create(&msg, m.subject, NULL, m.data, m.len);
    if (ns == NATS_OK) ns = natsMsgHeader_Set(msg, "Nats-Msg-Id", m.msg_id);
    if (ns == NATS_OK) ns = natsConnection_PublishMsg(w->sh->nc, msg);
    natsMsg_Destroy(msg);
    if (ns != NATS_OK) {
        atomic_fetch_add(w->sh->c.publish_errors, 1);
        mf_log_ratelimited(MF_LOG_WARN, 5000, "rollup publish failed subject=%s: %s", m.subject,
                           natsStatus_GetText(ns));
    }
}

/* Hands p to the publisher. Returns 0 when the ring is full (p waits in pend). */
static int send_js(agg_worker *w, agg_pub *p) {
    mf_jspub_msg m;
    mf_status s;
    if (mf_jspub_room(w->pub) == 0) {
        set_waiting(w, p);
        return 0;
    }
    render_pub(w, p, &m);
    s = mf_jspub_send(w->pub, &m, p, mf_mono_ms());
    if (s != MF_OK) {
        set_waiting(w, p);
        return s != MF_ERR_FULL;
    }
    p->sent = 1;
    if (p->waiting) {
        p->waiting = 0;
        w->nwaiting--;
    }
    return 1;
}

/* The first pend index whose seq is >= seq. */
static size_t pend_lower(const agg_worker *w, uint64_t seq) {
    size_t lo = 0, hi = w->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (w->pend[w->head + mid]->seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Sends the waiting publishes, in seq order, while the ring has room; the refused ones only
 * from the slow cycle (`slow`). */
static void send_waiting(agg_worker *w, int slow) {
    size_t i;
    if (w->nwaiting == 0) return;
    i = pend_lower(w, w->wait_seq);
    w->wait_seq = UINT64_MAX;
    for (; i < w->count && w->nwaiting > 0; i++) {
        agg_pub *p = w->pend[w->head + i];
        if (!p->waiting) continue;
        if (p->refused && !slow) {
            if (p->seq < w->wait_seq) w->wait_seq = p->seq;
            continue;
        }
        p->refused = 0;
        int again = p->sent, room = send_js(w, p);
        if (p->waiting) {
            if (p->seq < w->wait_seq) w->wait_seq = p->seq;
            if (!room) break; /* ring full: the rest waits */
        } else if (again) {
            atomic_fetch_add(w->sh->c.republished, 1);
        }
    }
}

/* Adds what the publisher counted to the aggregator's counters. */
static void take_counts(agg_worker *w) {
    mf_jspub_counts d = {0};
    long long errors;
    mf_jspub_take_counts(w->pub, &d);
    errors = d.send_errors + d.retryable + d.refused;
    if (errors) atomic_fetch_add(w->sh->c.publish_errors, errors);
    if (d.resent) atomic_fetch_add(w->sh->c.republished, d.resent);
}

static void pend_push(agg_worker *w, agg_pub *p) {
    if (w->head + w->count == w->cap) {
        if (w->head > w->cap / 2) {
            memmove(w->pend, w->pend + w->head, w->count * sizeof(agg_pub *));
            w->head = 0;
        } else {
            w->cap = w->cap ? w->cap * 2 : 1024;
            w->pend = mf_xrealloc(w->pend, w->cap * sizeof(agg_pub *));
        }
    }
    w->pend[w->head + w->count++] = p;
}

static void pend_trim(agg_worker *w) {
    while (w->count > 0) {
        agg_pub *p = w->pend[w->head];
        if (p->barrier && !p->done) pub_done(w, p); /* every earlier partial is stored */
        if (!p->done) break;
        pub_free(w->pend[w->head]);
        w->head++;
        w->count--;
    }
    if (w->count == 0) w->head = 0;
}

/* Applies the PubAcks that arrived (acks the ticks of what is stored), resends what the
 * publisher's rules say is due, and sends what waits while the ring has room. Returns how
 * many answers there were. */
static size_t drain_completions(agg_worker *w) {
    size_t n;
    if (w->pub == NULL) return 0;
    n = mf_jspub_poll(w->pub, mf_mono_ms());
    if (n > 0 && w->nwaiting > 0 && mf_jspub_room(w->pub) > 0) send_waiting(w, 0);
    take_counts(w);
    pend_trim(w);
    return n;
}

/* ---- emitting partials and latest ------------------------------------------------------ */

static void on_partial(agg_partial *part, void *ctx) {
    agg_worker *w = ctx;
    agg_shared *sh = w->sh;
    agg_pub *p = mf_xcalloc(1, sizeof(*p));
    p->seq = atomic_fetch_add(&sh->seq, 1);
    p->part = part;
    atomic_fetch_add(sh->c.rollups_out[part->window], 1);
    if (part->correction) atomic_fetch_add(sh->c.late_corrections, 1);
    if (w->pub == NULL) {
        send_core(w, p);
        pub_free(p);
        return;
    }
    pend_push(w, p);
    if (w->nwaiting == 0) /* else it queues behind the waiting ones */
        send_js(w, p);
    else
        set_waiting(w, p);
}

static void on_latest(const mf_tick *t, void *ctx) {
    agg_worker *w = ctx;
    char subject[160], buf[512];
    int n = mf_tick_to_json(t, buf, sizeof(buf));
    if (n < 0) return;
    if (mf_subject_key(subject, sizeof(subject), w->sh->prefix, MF_SUBJECT_LATEST, t->exchange,
                       t->symbol) < 0)
        return;
    if (natsConnection_Publish(w->sh->nc, subject, buf, n) == NATS_OK)
        atomic_fetch_add(w->sh->c.latest_out, 1);
}

/* Acks `ack` once every partial published before now has its PubAck. */
static void push_barrier(agg_worker *w, const char *ack) {
    agg_pub *p = mf_xcalloc(1, sizeof(*p));
    p->seq = atomic_fetch_add(&w->sh->seq, 1);
    p->barrier = 1;
    p->part = mf_xcalloc(1, sizeof(agg_partial)); /* no heads: the subject is kept verbatim */
    agg_acks_add(&p->part->acks, NULL, ack);
    pend_push(w, p);
    pend_trim(w);
}

/* A redelivered tick this worker counted already: its ack goes with the original's bucket,
 * or after the PubAcks of what was flushed before. Returns 1 when `it` was one. */
static int take_duplicate(agg_worker *w, const agg_item *it, const char *ack) {
    if (w->seen == NULL || it->sseq == 0 || ack == NULL) return 0;
    if (!seen_test_set(w, it->sseq) || it->delivered < 2) return 0;
    atomic_fetch_add(w->sh->c.duplicates, 1);
    atomic_fetch_add(w->sh->c.pending_acks, 1);
    if (!agg_windows_attach_ack(w->win, &it->tick, ack)) push_barrier(w, ack);
    return 1;
}

/* ---- the worker thread ----------------------------------------------------------------- */

static void process_batch(agg_worker *w, agg_batch *b, int64_t now_ms) {
    agg_counters *c = &w->sh->c;
    long long late = 0, held = 0;
    for (size_t i = 0; i < b->n; i++) {
        const agg_item *it = &b->items[i];
        const char *ack = it->ack_off == UINT32_MAX ? NULL : b->arena + it->ack_off;
        agg_add_result r;
        if (take_duplicate(w, it, ack)) continue;
        r = agg_windows_add(w->win, &it->tick, ack, now_ms);
        switch (r) {
        case AGG_ADD_OK: break;
        case AGG_ADD_CORRECTION: late++; break;
        case AGG_ADD_REJECT_OLD: atomic_fetch_add(c->rejected_old, 1); break;
        case AGG_ADD_REJECT_AHEAD: atomic_fetch_add(c->rejected_ahead, 1); break;
        }
        if (r == AGG_ADD_REJECT_OLD || r == AGG_ADD_REJECT_AHEAD) {
            mf_log_ratelimited(MF_LOG_WARN, 5000,
                               "tick rejected reason=%s exchange=%s symbol=%s ts=%" PRId64,
                               r == AGG_ADD_REJECT_OLD ? "old" : "ahead", it->tick.exchange,
                               it->tick.symbol, it->tick.ts);
            if (ack) agg_ack_subject(w->sh, ack); /* never redeliver what we will never use */
        } else if (ack) {
            held++;
        }
    }
    atomic_fetch_add(c->ticks_in, (long long)b->n);
    if (late) atomic_fetch_add(c->late_ticks, late);
    if (held) atomic_fetch_add(c->pending_acks, held);
}

static void cycle(agg_worker *w, int force) {
    int64_t now = mf_now_ms(), mono = mf_mono_ms();
    agg_windows_flush(w->win, now, force, on_partial, w);
    agg_windows_latest(w->win, now, force, on_latest, w);
    if (force || mono >= w->next_slow) {
        w->next_slow = mono + SLOW_MS;
        agg_windows_expire(w->win, now);
        if (w->pub != NULL) {
            send_waiting(w, 1);
            take_counts(w);
        }
    }
    atomic_store(&w->sh->keys[w->index], (long long)agg_windows_keys(w->win));
    atomic_store(&w->sh->open[w->index], (long long)agg_windows_open(w->win));
}

/* Stop: flush everything, then wait (bounded) for the PubAcks and ack. */
static void finish(agg_worker *w) {
    int64_t end;
    cycle(w, 1);
    end = mf_mono_ms() + STOP_WAIT_MS;
    while (w->count > 0 && mf_mono_ms() < end) {
        if (drain_completions(w) == 0) mf_sleep_ms(5);
        if (mf_mono_ms() >= w->next_slow) {
            w->next_slow = mf_mono_ms() + SLOW_MS;
            send_waiting(w, 1);
        }
    }
    if (w->count > 0)
        mf_log(MF_LOG_WARN,
               "stop: partials without PubAck worker=%d pending=%zu (their ticks are "
               "redelivered)",
               w->index, w->count);
}

static void *worker_main(void *arg) {
    agg_worker *w = arg;
    char name[16];
    snprintf(name, sizeof(name), "agg-worker-%d", w->index);
    mf_thread_name(name);
    for (;;) {
        void *item = NULL;
        mf_status s = mf_queue_pop(w->q, &item, CYCLE_MS);
        if (s == MF_OK) {
            int64_t now = mf_now_ms();
            process_batch(w, item, now);
            agg_batch_free(item);
            agg_windows_latest_due(w->win, now, on_latest, w); /* the leading edge */
        }
        drain_completions(w);
        if (s == MF_ERR_CLOSED) break;
        if (mf_mono_ms() >= w->next_cycle) {
            w->next_cycle = mf_mono_ms() + CYCLE_MS;
            cycle(w, 0);
        }
    }
    finish(w);
    return NULL;
}

static mf_status worker_publisher(agg_worker *w) {
    mf_jspub_config pc = {
        .nc = w->sh->nc,
        .slots = AGG_PUB_SLOTS,
        .ack_wait_ms = RETRY_AFTER_MS,
        .retry_ms = SLOW_MS,
        .scan_ms = SLOW_MS,
        .render = on_pub_render,
        .done = on_pub_done,
        .closure = w,
    };
    w->wait_seq = UINT64_MAX;
    return mf_jspub_create(&w->pub, &pc);
}

mf_status agg_worker_start(agg_worker **out, agg_shared *sh, int index) {
    agg_worker *w = mf_xcalloc(1, sizeof(*w));
    mf_status s;
    w->sh = sh;
    w->index = index;
    /* 16 batches (~4,000 ticks) keep a worker busy; a deeper queue only holds memory (each
     * batch is ~100 KB: 64 deep, two workers held up to 12 MB more under load). */
    s = mf_queue_create(&w->q, QUEUE_BATCHES);
    if (s == MF_OK) s = agg_windows_create(&w->win, &sh->wcfg);
    if (s == MF_OK && sh->jetstream) {
        w->seen = mf_xcalloc(SEEN_BITS / 8, 1);
        s = worker_publisher(w);
    }
    if (s == MF_OK && pthread_create(&w->thread, NULL, worker_main, w) != 0) s = MF_ERR;
    if (s != MF_OK) {
        mf_jspub_destroy(w->pub);
        agg_windows_destroy(w->win);
        mf_queue_destroy(w->q);
        free(w->seen);
        free(w);
        return s;
    }
    *out = w;
    return MF_OK;
}

mf_status agg_worker_push(agg_worker *w, agg_batch *b, int timeout_ms) {
    return mf_queue_push(w->q, b, timeout_ms);
}

void agg_worker_close(agg_worker *w) {
    if (w) mf_queue_close(w->q);
}

void agg_worker_join(agg_worker *w) {
    if (w == NULL) return;
    mf_queue_close(w->q);
    pthread_join(w->thread, NULL);
    /* PubAcks still due are dropped (ABANDONED) and their ticks redelivered after AckWait. */
    mf_jspub_destroy(w->pub);
    for (size_t i = 0; i < w->count; i++) pub_free(w->pend[w->head + i]);
    free(w->pend);
    free(w->json);
    free(w->seen);
    agg_windows_destroy(w->win);
    mf_queue_destroy(w->q);
    free(w);
}
