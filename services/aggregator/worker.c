/* worker.c: one aggregator worker: its windows, the publishing of its partials and the acks
 * of the ticks they cover.
 *
 * Thread model: the worker thread owns its agg_windows and its list of publishes waiting for a
 * PubAck. It pops tick batches from its queue, and every cycle (20 ms) flushes due partials,
 * publishes the conflated latest, retries publishes without PubAck, and expires idle keys.
 * JetStream publishes are plain publishes with a reply subject "<worker inbox>.<seq>": the
 * stream answers there with the PubAck. (nats.c 3.4.1's js_PublishMsgAsync crashed in its
 * pending-map under ~30,000 publishes in flight, see docs/aggregator.md; this needs no map.)
 * The inbox subscription's delivery thread (on_puback) only records (seq, ok) under a mutex;
 * the worker then acks the ticks of that partial ("+ACK" to each reply subject, what
 * natsMsg_Ack sends) or publishes it again (same Nats-Msg-Id, so the stream stores it once). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator_internal.h"
#include "mf/log.h"
#include "mf/util.h"

#define CYCLE_MS 20
#define RETRY_AFTER_MS 5000
#define STOP_WAIT_MS 10000
#define QUEUE_BATCHES 16

/* A partial published (or to publish) and the ticks to ack once it is stored. The JSON is
 * rendered at each send from the compact partial (~300 B held per publish in flight instead of
 * the JSON and a full rollup). A barrier publishes nothing: its acks go once every earlier
 * publish is stored. */
typedef struct agg_pub {
    uint64_t seq;
    int done;
    int barrier;
    int64_t sent_ms;   /* monotonic; 0 = not sent yet */
    agg_partial *part; /* freed once done */
} agg_pub;

typedef struct agg_done {
    uint64_t seq;
    int ok;
} agg_done;

struct agg_worker {
    agg_shared *sh;
    int index;
    pthread_t thread;
    mf_queue *q;
    agg_windows *win;
    int js;                  /* transport=jetstream: wait for PubAcks */
    natsSubscription *inbox; /* PubAcks arrive on "<reply_prefix><seq>" */
    char reply_prefix[96];
    int inbox_done; /* set (under mu) once the inbox delivery thread is finished */
    pthread_cond_t inbox_cv;
    /* Completions from the PubAck thread. */
    pthread_mutex_t mu;
    agg_done *done;
    size_t ndone, done_cap;
    /* Publishes waiting for a PubAck, in seq order: pend[head .. head+count). */
    agg_pub **pend;
    size_t head, count, cap;
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

/* ---- acks and PubAcks ------------------------------------------------------------------ */

void agg_ack_subject(agg_shared *sh, const char *subject) {
    natsConnection_Publish(sh->nc, subject, "+ACK", 4);
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

/* The inbox delivery thread: record the outcome for the worker, nothing else. */
static void on_puback(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    agg_worker *w = closure;
    const char *subj = natsMsg_GetSubject(msg), *data = natsMsg_GetData(msg);
    const char *dot = subj ? strrchr(subj, '.') : NULL;
    agg_done d;
    (void)nc, (void)sub;
    if (dot != NULL) {
        d.seq = strtoull(dot + 1, NULL, 10);
        /* A PubAck is {"stream":..,"seq":..}; failures carry "error", or are a no-responders
         * status (no stream) with an empty body. */
        d.ok = !natsMsg_IsNoResponders(msg) && data != NULL && natsMsg_GetDataLength(msg) > 0 &&
               strstr(data, "\"error\"") == NULL;
        pthread_mutex_lock(&w->mu);
        if (w->ndone == w->done_cap) {
            w->done_cap = w->done_cap ? w->done_cap * 2 : 1024;
            w->done = mf_xrealloc(w->done, w->done_cap * sizeof(agg_done));
        }
        w->done[w->ndone++] = d;
        pthread_mutex_unlock(&w->mu);
    }
    natsMsg_Destroy(msg);
}

static void on_inbox_complete(void *closure) {
    agg_worker *w = closure;
    pthread_mutex_lock(&w->mu);
    w->inbox_done = 1;
    pthread_cond_broadcast(&w->inbox_cv);
    pthread_mutex_unlock(&w->mu);
}

static void pub_free(agg_pub *p) {
    if (p == NULL) return;
    agg_partial_free(p->part);
    free(p);
}

static void pub_send(agg_worker *w, agg_pub *p) {
    char id[96], reply[128], subject[160];
    natsMsg *m = NULL;
    natsStatus ns;
    mf_rollup r;
    char *json;
    size_t json_len = 0;
    agg_partial_rollup(p->part, &r);
    snprintf(r.producer, sizeof(r.producer), "%s", w->sh->producer);
    r.seq = p->seq;
    json = mf_rollup_to_json(&r, &json_len);
    MF_ASSERT(json != NULL);
    snprintf(subject, sizeof(subject), "%s.rollups.%s.%s.%s", w->sh->prefix,
             mf_window_name(r.window), r.exchange, r.symbol);
    snprintf(id, sizeof(id), "%s:%" PRIu64, w->sh->producer, p->seq);
    snprintf(reply, sizeof(reply), "%s%" PRIu64, w->reply_prefix, p->seq);
    ns = natsMsg_Create(&m, subject, w->js ? reply : NULL, json, (int)json_len);
    if (ns == NATS_OK) ns = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
    if (ns == NATS_OK) ns = natsConnection_PublishMsg(w->sh->nc, m);
    natsMsg_Destroy(m);
    free(json);
    p->sent_ms = mf_mono_ms();
    if (ns != NATS_OK) {
        p->sent_ms = 0;
        atomic_fetch_add(w->sh->c.publish_errors, 1);
        mf_log_ratelimited(MF_LOG_WARN, 5000, "rollup publish failed subject=%s: %s", subject,
                           natsStatus_GetText(ns));
    }
}

static agg_pub *pend_find(agg_worker *w, uint64_t seq) {
    size_t lo = 0, hi = w->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        agg_pub *p = w->pend[w->head + mid];
        if (p->seq == seq) return p;
        if (p->seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
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

/* Applies the PubAcks recorded since the last call. Returns how many. */
static size_t drain_completions(agg_worker *w) {
    agg_done *list;
    size_t n;
    pthread_mutex_lock(&w->mu);
    list = w->done;
    n = w->ndone;
    w->done = NULL;
    w->ndone = w->done_cap = 0;
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < n; i++) {
        agg_pub *p = pend_find(w, list[i].seq);
        if (p == NULL || p->done) continue; /* a PubAck for a publish sent twice */
        if (!list[i].ok) {
            atomic_fetch_add(w->sh->c.publish_errors, 1);
            p->sent_ms = 0; /* sent again by retry_pending */
            continue;
        }
        pub_done(w, p);
    }
    free(list);
    pend_trim(w);
    return n;
}

/* Publishes again what failed or got no PubAck for RETRY_AFTER_MS. */
static void retry_pending(agg_worker *w, int64_t mono) {
    for (size_t i = 0; i < w->count; i++) {
        agg_pub *p = w->pend[w->head + i];
        if (p->done || p->barrier || (p->sent_ms != 0 && mono - p->sent_ms < RETRY_AFTER_MS))
            continue;
        atomic_fetch_add(w->sh->c.republished, 1);
        pub_send(w, p);
    }
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
    pub_send(w, p);
    if (!w->js) { /* core: fire and forget, nothing to ack */
        pub_free(p);
        return;
    }
    pend_push(w, p);
}

static void on_latest(const mf_tick *t, void *ctx) {
    agg_worker *w = ctx;
    char subject[160], buf[512];
    int n = mf_tick_to_json(t, buf, sizeof(buf));
    if (n < 0) return;
    snprintf(subject, sizeof(subject), "%s.latest.%s.%s", w->sh->prefix, t->exchange, t->symbol);
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
        w->next_slow = mono + 1000;
        agg_windows_expire(w->win, now);
        retry_pending(w, mono);
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
        retry_pending(w, mf_mono_ms());
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

static mf_status worker_inbox(agg_worker *w) {
    natsInbox *inbox = NULL;
    char subj[128];
    natsStatus ns = natsInbox_Create(&inbox);
    if (ns != NATS_OK) return mf_nats_fail(ns, "inbox");
    snprintf(w->reply_prefix, sizeof(w->reply_prefix), "%s.", (const char *)inbox);
    natsInbox_Destroy(inbox);
    snprintf(subj, sizeof(subj), "%s*", w->reply_prefix);
    w->js = 1;
    ns = natsConnection_Subscribe(&w->inbox, w->sh->nc, subj, on_puback, w);
    if (ns == NATS_OK) ns = natsSubscription_SetPendingLimits(w->inbox, -1, -1);
    if (ns == NATS_OK) ns = natsSubscription_SetOnCompleteCB(w->inbox, on_inbox_complete, w);
    return ns == NATS_OK ? MF_OK : mf_nats_fail(ns, "PubAck inbox subscribe");
}

/* Unsubscribes the inbox and waits (bounded) until its delivery thread is done with w. */
static int inbox_stop(agg_worker *w) {
    struct timespec dl;
    int done;
    if (w->inbox == NULL) return 1;
    natsSubscription_Unsubscribe(w->inbox);
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += 2;
    pthread_mutex_lock(&w->mu);
    while (!w->inbox_done && pthread_cond_timedwait(&w->inbox_cv, &w->mu, &dl) == 0) {
    }
    done = w->inbox_done;
    pthread_mutex_unlock(&w->mu);
    natsSubscription_Destroy(w->inbox);
    w->inbox = NULL;
    return done;
}

mf_status agg_worker_start(agg_worker **out, agg_shared *sh, int index) {
    agg_worker *w = mf_xcalloc(1, sizeof(*w));
    pthread_condattr_t ca;
    mf_status s;
    w->sh = sh;
    w->index = index;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->inbox_cv, &ca);
    pthread_condattr_destroy(&ca);
    /* 16 batches (~4,000 ticks) keep a worker busy; a deeper queue only holds memory (each
     * batch is ~100 KB: 64 deep, two workers held up to 12 MB more under load). */
    s = mf_queue_create(&w->q, QUEUE_BATCHES);
    if (s == MF_OK) s = agg_windows_create(&w->win, &sh->wcfg);
    if (s == MF_OK && sh->jetstream) {
        w->seen = mf_xcalloc(SEEN_BITS / 8, 1);
        s = worker_inbox(w);
    }
    if (s == MF_OK && pthread_create(&w->thread, NULL, worker_main, w) != 0) s = MF_ERR;
    if (s != MF_OK) {
        if (inbox_stop(w)) { /* else its thread may still run: leave w allocated */
            agg_windows_destroy(w->win);
            mf_queue_destroy(w->q);
            free(w->seen);
            free(w);
        }
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
    /* PubAcks still due are dropped and their ticks redelivered after AckWait. If the inbox
     * thread did not finish in time it may still touch w: leave w allocated (we are exiting). */
    if (!inbox_stop(w)) return;
    for (size_t i = 0; i < w->count; i++) pub_free(w->pend[w->head + i]);
    free(w->pend);
    free(w->done);
    free(w->seen);
    agg_windows_destroy(w->win);
    mf_queue_destroy(w->q);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->inbox_cv);
    free(w);
}
