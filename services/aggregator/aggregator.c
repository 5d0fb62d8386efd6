/* aggregator.c: the aggregator service: ticks in, 1 s / 1 min partial rollups and the conflated
 * latest out (docs/design.md sections 4 and 5).
 *
 * DESIGN
 *   Threads:
 *   - intake (1): takes ticks off the bus in batches: in transport=jetstream a pull loop
 *     (batch 1024, 200 ms expiry) on the durable pull consumer "<prefix>-aggregator" that every
 *     instance shares (a pull consumer hands each message to one puller: that is the queue
 *     group); in transport=core a
 *     synchronous queue subscription (queue "<prefix>-aggregator"). It decodes each tick
 *     (mf_tick_from_json; a bad payload is acked and counted, never retried) and appends it,
 *     with its ack subject, to the batch of worker hash(exchange, symbol) % workers, so one key
 *     is always handled by the same worker. Batches go through each worker's bounded mf_queue
 *     (back-pressure: a full queue slows fetching down).
 *   - workers (aggregator.workers): each owns an agg_windows (window.c) and the publishes it
 *     waits on (worker.c). A tick's ack is sent only after the PubAck of the 1 s rollup that
 *     covers it; 1 min rollups are merged from the worker's own 1 s partials.
 *   - one PubAck delivery thread per worker (nats.c, its own JetStream context): records
 *     outcomes for the worker under a mutex, nothing more.
 *   - main: polls the consumer lag every 2 s; heartbeat thread (app.c) reads the atomics here.
 *   Stop: intake stops fetching and hands over what it holds -> worker queues close -> each
 *   worker drains, flushes every partial, waits for PubAcks, acks -> join. */
#include "aggregator.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator_internal.h"
#include "mf/jspull.h"
#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/signals.h"
#include "mf/subject.h"
#include "mf/util.h"

#define FETCH_BATCH 1024
#define FETCH_WAIT_MS 200
#define NS_PER_MS 1000000LL

struct aggregator {
    agg_shared sh;
    int nworkers;
    agg_worker **workers;
    jsCtx *js; /* the app's context (main thread and intake only) */
    natsSubscription *sub;
    pthread_t intake;
    int intake_started;
    atomic_int stop;
    int stopped;
    char stream[64];
    char durable[96];
    char subject[128];
    mf_jspull *pull; /* transport=jetstream (sub is NULL then) */
    atomic_llong lag;
    atomic_llong server_ack_pending;
    int64_t next_poll;
};

/* ---- counters -------------------------------------------------------------------------- */

static void counters_register(agg_counters *c) {
    c->ticks_in = mf_counter("aggregator_ticks_in_total", "", "ticks taken into windows");
    c->rollups_out[MF_WIN_1S] =
        mf_counter("aggregator_rollups_out_total", "window=\"1s\"", "partial rollups published");
    c->rollups_out[MF_WIN_1M] =
        mf_counter("aggregator_rollups_out_total", "window=\"1m\"", "partial rollups published");
    c->late_ticks = mf_counter("aggregator_late_ticks_total", "",
                               "ticks whose bucket was already due (went to a correction)");
    c->late_corrections =
        mf_counter("aggregator_late_corrections_total", "", "correction partials published");
    c->rejected_json =
        mf_counter("aggregator_rejected_total", "reason=\"json\"", "ticks rejected and acked");
    c->rejected_old =
        mf_counter("aggregator_rejected_total", "reason=\"old\"", "ticks rejected and acked");
    c->rejected_ahead =
        mf_counter("aggregator_rejected_total", "reason=\"ahead\"", "ticks rejected and acked");
    c->latest_out = mf_counter("aggregator_latest_out_total", "", "latest messages published");
    c->acked = mf_counter("aggregator_acked_total", "", "ticks acked after their PubAck");
    c->publish_errors = mf_counter("aggregator_publish_errors_total", "",
                                   "rollup publishes failed or negatively acked");
    c->republished = mf_counter("aggregator_republished_total", "",
                                "rollups published again (error or no PubAck in time)");
    c->duplicates = mf_counter("aggregator_duplicates_total", "",
                               "redelivered ticks already counted (acked, not counted again)");
    c->pending_acks =
        mf_gauge("aggregator_pending_acks", "", "ticks held until their 1 s rollup is stored");
}

/* ---- intake ---------------------------------------------------------------------------- */

static int worker_of(const aggregator *a, const mf_tick *t) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a over exchange, separator, symbol */
    for (const unsigned char *p = (const unsigned char *)t->exchange; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const unsigned char *p = (const unsigned char *)t->symbol; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (int)((h ^ (h >> 32)) % (uint64_t)a->nworkers);
}

static void dispatch(aggregator *a, natsMsg *m, agg_batch **batches) {
    const char *data = natsMsg_GetData(m);
    const char *reply = a->sh.jetstream ? natsMsg_GetReply(m) : NULL;
    int len = natsMsg_GetDataLength(m);
    mf_tick t;
    int w;
    if (data == NULL || mf_tick_from_json(data, (size_t)len, &t) != MF_OK) {
        atomic_fetch_add(a->sh.c.rejected_json, 1);
        mf_log_ratelimited(MF_LOG_WARN, 5000, "bad tick payload subject=%s len=%d",
                           natsMsg_GetSubject(m), len);
        if (reply) mf_jspull_ack(a->sh.nc, reply); /* redelivering it would not fix it */
        return;
    }
    w = worker_of(a, &t);
    if (batches[w] == NULL) batches[w] = agg_batch_new(FETCH_BATCH / 2);
    agg_batch_push(batches[w], &t, reply, reply ? strlen(reply) : 0);
}

/* Hands every batch to its worker. Waits while a queue is full: workers always drain. */
static void hand_over(aggregator *a, agg_batch **batches) {
    for (int i = 0; i < a->nworkers; i++) {
        mf_status s;
        if (batches[i] == NULL) continue;
        while ((s = agg_worker_push(a->workers[i], batches[i], 100)) == MF_ERR_TIMEOUT) {
        }
        if (s != MF_OK) agg_batch_free(batches[i]);
        batches[i] = NULL;
    }
}

/* Pull loop (mf_jspull: batch 1024, 200 ms expiry, requests pipelined so the server always
 * holds one while we work). Workers get what arrived every half batch or when the inbox is
 * idle. On stop, no more requests; what the outstanding ones deliver (they expire within
 * 200 ms) is still taken. */
static void intake_jetstream(aggregator *a, agg_batch **batches) {
    int held = 0;
    int64_t drain_end = 0;
    for (;;) {
        natsMsg *m = NULL;
        if (atomic_load(&a->stop)) {
            int64_t now = mf_mono_ms();
            if (drain_end == 0) {
                drain_end = now + FETCH_WAIT_MS + 100;
                mf_jspull_stop_requests(a->pull);
            }
            if (now >= drain_end) break;
        }
        if (mf_jspull_next(a->pull, &m, 20) == MF_OK) {
            dispatch(a, m, batches);
            natsMsg_Destroy(m);
            if (++held < FETCH_BATCH / 2) continue;
        }
        if (held > 0) hand_over(a, batches);
        held = 0;
    }
    hand_over(a, batches);
}

/* Core intake: block for the first message, then take what is queued behind it. When little
 * is queued, linger CORE_LINGER_US first: waiting on the subscription for each message would
 * have nats.c's reader thread wake this one per message (a context switch per tick: a third
 * of the aggregator's CPU at 300k ticks/s); sleeping instead lets a batch build up, at the
 * price of at most that much latency. */
#define CORE_LINGER_US 1000
#define CORE_LINGER_BELOW (FETCH_BATCH / 8)
static void intake_core(aggregator *a, agg_batch **batches) {
    while (!atomic_load(&a->stop)) {
        natsMsg *m = NULL;
        int pending = 0;
        natsStatus ns = natsSubscription_NextMsg(&m, a->sub, FETCH_WAIT_MS);
        if (ns == NATS_TIMEOUT) continue;
        if (ns != NATS_OK) {
            mf_log_ratelimited(MF_LOG_WARN, 5000, "core subscription: %s", natsStatus_GetText(ns));
            mf_sleep_ms(100);
            continue;
        }
        dispatch(a, m, batches);
        natsMsg_Destroy(m);
        natsSubscription_GetPending(a->sub, &pending, NULL);
        if (pending < CORE_LINGER_BELOW) {
            mf_sleep_us(CORE_LINGER_US);
            natsSubscription_GetPending(a->sub, &pending, NULL);
        }
        /* Take what is queued (up to a batch) without waiting. */
        for (int i = 0; i < pending && i < FETCH_BATCH - 1; i++) {
            if (natsSubscription_NextMsg(&m, a->sub, 1000) != NATS_OK) break;
            dispatch(a, m, batches);
            natsMsg_Destroy(m);
        }
        hand_over(a, batches);
    }
}

static void *intake_main(void *arg) {
    aggregator *a = arg;
    agg_batch **batches = mf_xcalloc((size_t)a->nworkers, sizeof(agg_batch *));
    mf_thread_name("agg-intake");
    if (a->sh.jetstream)
        intake_jetstream(a, batches);
    else
        intake_core(a, batches);
    hand_over(a, batches);
    free(batches);
    return NULL;
}

/* ---- subscription setup ---------------------------------------------------------------- */

static void consumer_config(aggregator *a, jsConsumerConfig *cc) {
    jsConsumerConfig_Init(cc);
    cc->Durable = a->durable;
    cc->AckPolicy = js_AckExplicit;
    cc->DeliverPolicy = js_DeliverAll;
    /* No FilterSubject: the stream holds only ticks, and with a filter nats-server 2.9 computes
     * NumPending per subject: seconds per CONSUMER.INFO with 30,000 symbols, run inline in
     * our connection's read loop (acks and pulls stalled behind it). */
    cc->MaxAckPending = 1000000; /* the default 1000 would throttle Fetch(1024) */
    /* Far above grace + flush + PubAck, so ticks are redelivered only after a real failure. */
    cc->AckWait = 30000 * NS_PER_MS;
    cc->MaxWaiting = 512;
}

/* Creates the durable consumer, or updates it when it exists (idempotent; several instances
 * may race here: the loser of an add sees "exists" and updates on the next attempt). */
static mf_status ensure_consumer(aggregator *a) {
    jsConsumerConfig cc;
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus ns;
    consumer_config(a, &cc);
    ns = js_GetConsumerInfo(&ci, a->js, a->stream, a->durable, NULL, &jerr);
    jsConsumerInfo_Destroy(ci);
    ci = NULL;
    if (ns == NATS_OK)
        ns = js_UpdateConsumer(&ci, a->js, a->stream, &cc, NULL, &jerr);
    else if (ns == NATS_NOT_FOUND || jerr == JSConsumerNotFoundErr)
        ns = js_AddConsumer(&ci, a->js, a->stream, &cc, NULL, &jerr);
    jsConsumerInfo_Destroy(ci);
    if (ns != NATS_OK) {
        mf_log(MF_LOG_WARN, "consumer %s on %s not ready: %s (jerr=%d %s)", a->durable, a->stream,
               natsStatus_GetText(ns), (int)jerr, nats_GetLastError(NULL));
        return MF_ERR_NATS;
    }
    return MF_OK;
}

/* The pull protocol is driven by hand (mf_jspull: nats.c 3.4.1's Fetch wrote past its batch
 * array under load, see docs/aggregator.md). */
static mf_status subscribe_jetstream(aggregator *a) {
    mf_jspull_config pc = {.stream = a->stream,
                           .consumer = a->durable,
                           .batch = FETCH_BATCH,
                           .expires_ms = FETCH_WAIT_MS};
    mf_status s;
    for (int attempt = 0; ensure_consumer(a) != MF_OK; attempt++)
        if (mf_wait_stop((int)mf_backoff_ms(attempt, 250, 5000))) return MF_ERR_CLOSED;
    s = mf_jspull_create(&a->pull, a->sh.nc, &pc);
    if (s != MF_OK) return s;
    mf_log(MF_LOG_INFO, "consuming stream=%s consumer=%s subject=%s", a->stream, a->durable,
           a->subject);
    return MF_OK;
}

static mf_status subscribe_core(aggregator *a) {
    natsStatus ns = natsConnection_QueueSubscribeSync(&a->sub, a->sh.nc, a->subject, a->durable);
    if (ns == NATS_OK) ns = natsSubscription_SetPendingLimits(a->sub, 10000000, 1 << 30);
    if (ns != NATS_OK) return mf_nats_fail(ns, "queue subscribe");
    mf_log(MF_LOG_INFO, "consuming core subject=%s queue=%s", a->subject, a->durable);
    return MF_OK;
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static void shared_init(agg_shared *sh, const mf_config *cfg, mf_nats *nats, const char *instance) {
    sh->cfg = cfg;
    sh->nats = nats;
    sh->nc = mf_nats_conn(nats);
    sh->jetstream = cfg->nats.transport == MF_TRANSPORT_JETSTREAM;
    snprintf(sh->producer, sizeof(sh->producer), "%s", instance);
    snprintf(sh->prefix, sizeof(sh->prefix), "%s", mf_nats_prefix(nats));
    /* (producer, seq) must stay unique across restarts of an instance with a fixed name:
     * seqs start at the wall clock in microseconds. */
    atomic_store(&sh->seq, (unsigned long long)mf_now_ms() * 1000ULL);
    counters_register(&sh->c);
    sh->wcfg.grace_ms[MF_WIN_1S] = cfg->aggregator.grace_1s_ms;
    sh->wcfg.grace_ms[MF_WIN_1M] = cfg->aggregator.grace_1m_ms;
    sh->wcfg.max_lateness_ms = (int64_t)cfg->aggregator.max_lateness_s * 1000;
    sh->wcfg.max_skew_ms = (int64_t)cfg->aggregator.max_skew_s * 1000;
    sh->wcfg.idle_expiry_ms = (int64_t)cfg->aggregator.idle_expiry_s * 1000;
    sh->wcfg.latest_interval_ms = cfg->aggregator.latest_interval_ms;
}

static void names_init(aggregator *a) {
    mf_nats_stream_name(a->sh.nats, MF_STREAM_TICKS, a->stream, sizeof(a->stream));
    mf_subject_all(a->subject, sizeof(a->subject), a->sh.prefix, MF_SUBJECT_TICKS);
    snprintf(a->durable, sizeof(a->durable), "%s-aggregator", a->sh.prefix);
    for (char *p = a->durable; *p; p++) /* durable names may not hold '.', '*' or '>' */
        if (*p == '.' || *p == '*' || *p == '>') *p = '_';
}

mf_status
aggregator_create(aggregator **out, const mf_config *cfg, mf_nats *nats, const char *instance) {
    aggregator *a = mf_xcalloc(1, sizeof(*a));
    mf_status s = MF_OK;
    shared_init(&a->sh, cfg, nats, instance);
    names_init(a);
    a->js = mf_nats_js(nats);
    atomic_store(&a->lag, -1);
    a->nworkers = cfg->aggregator.workers;
    a->workers = mf_xcalloc((size_t)a->nworkers, sizeof(agg_worker *));
    a->sh.keys = mf_xcalloc((size_t)a->nworkers, sizeof(atomic_llong));
    a->sh.open = mf_xcalloc((size_t)a->nworkers, sizeof(atomic_llong));
    /* Start order: workers, then the subscription, then the intake thread. */
    for (int i = 0; i < a->nworkers && s == MF_OK; i++)
        s = agg_worker_start(&a->workers[i], &a->sh, i);
    if (s == MF_OK) s = a->sh.jetstream ? subscribe_jetstream(a) : subscribe_core(a);
    if (s == MF_OK) {
        if (pthread_create(&a->intake, NULL, intake_main, a) != 0) s = MF_ERR;
        a->intake_started = s == MF_OK;
    }
    if (s != MF_OK) {
        aggregator_stop(a);
        aggregator_destroy(a);
        return s;
    }
    mf_log(MF_LOG_INFO, "aggregator running producer=%s workers=%d transport=%s", a->sh.producer,
           a->nworkers, a->sh.jetstream ? "jetstream" : "core");
    *out = a;
    return MF_OK;
}

void aggregator_stop(aggregator *a) {
    if (a == NULL || a->stopped) return;
    a->stopped = 1;
    atomic_store(&a->stop, 1);
    if (a->intake_started) pthread_join(a->intake, NULL);
    a->intake_started = 0;
    /* No more deliveries (the durable consumer stays on the server). Unsubscribing here also
     * keeps the subscription out of the connection drain at exit. */
    if (a->sub) natsSubscription_Unsubscribe(a->sub);
    natsSubscription_Destroy(a->sub);
    a->sub = NULL;
    mf_jspull_destroy(a->pull);
    a->pull = NULL;
    for (int i = 0; i < a->nworkers; i++) agg_worker_close(a->workers[i]);
    for (int i = 0; i < a->nworkers; i++) {
        agg_worker_join(a->workers[i]);
        a->workers[i] = NULL;
    }
    mf_log(MF_LOG_INFO, "aggregator stopped ticks_in=%lld acked=%lld pending_acks=%lld",
           atomic_load(a->sh.c.ticks_in), atomic_load(a->sh.c.acked),
           atomic_load(a->sh.c.pending_acks));
}

void aggregator_destroy(aggregator *a) {
    if (a == NULL) return;
    natsSubscription_Destroy(a->sub);
    a->sub = NULL;
    mf_jspull_destroy(a->pull);
    a->pull = NULL;
    free(a->workers);
    free(a->sh.keys);
    free(a->sh.open);
    free(a);
}

void aggregator_poll(aggregator *a) {
    int64_t now = mf_mono_ms();
    if (now < a->next_poll) return;
    a->next_poll = now + 2000;
    if (a->sh.jetstream) {
        jsConsumerInfo *ci = NULL;
        jsErrCode jerr = 0;
        if (js_GetConsumerInfo(&ci, a->js, a->stream, a->durable, NULL, &jerr) == NATS_OK) {
            atomic_store(&a->lag, (long long)ci->NumPending);
            atomic_store(&a->server_ack_pending, (long long)ci->NumAckPending);
        }
        jsConsumerInfo_Destroy(ci);
    } else if (a->sub) {
        int msgs = 0;
        if (natsSubscription_GetPending(a->sub, &msgs, NULL) == NATS_OK)
            atomic_store(&a->lag, msgs);
    }
}

void aggregator_status_fill(json_t *st, void *ctx) {
    aggregator *a = ctx;
    agg_counters *c = &a->sh.c;
    long long keys = 0, open = 0;
    json_t *rej = json_object();
    for (int i = 0; i < a->nworkers; i++) {
        keys += atomic_load(&a->sh.keys[i]);
        open += atomic_load(&a->sh.open[i]);
    }
    json_object_set_new(st, "transport", json_string(a->sh.jetstream ? "jetstream" : "core"));
    json_object_set_new(st, "workers", json_integer(a->nworkers));
    json_object_set_new(st, "ticks_in", json_integer(atomic_load(c->ticks_in)));
    json_object_set_new(st, "rollups_out",
                        json_integer(atomic_load(c->rollups_out[MF_WIN_1S]) +
                                     atomic_load(c->rollups_out[MF_WIN_1M])));
    json_object_set_new(st, "late_ticks", json_integer(atomic_load(c->late_ticks)));
    json_object_set_new(st, "late_corrections", json_integer(atomic_load(c->late_corrections)));
    json_object_set_new(rej, "json", json_integer(atomic_load(c->rejected_json)));
    json_object_set_new(rej, "old", json_integer(atomic_load(c->rejected_old)));
    json_object_set_new(rej, "ahead", json_integer(atomic_load(c->rejected_ahead)));
    json_object_set_new(st, "rejected", rej);
    json_object_set_new(st, "duplicates", json_integer(atomic_load(c->duplicates)));
    json_object_set_new(st, "pending_acks", json_integer(atomic_load(c->pending_acks)));
    json_object_set_new(st, "lag", json_integer(atomic_load(&a->lag)));
    json_object_set_new(st, "consumer_ack_pending",
                        json_integer(atomic_load(&a->server_ack_pending)));
    json_object_set_new(st, "keys", json_integer(keys));
    json_object_set_new(st, "open_windows", json_integer(open));
}
