/* publisher.c: JetStream async / core publishing with a bounded hold buffer.
 *
 * DESIGN
 * Threads:
 *  - callers (the collector's workers) publish directly while NATS is connected; otherwise,
 *    or when a publish fails or stalls past StallWait, the message goes into `held` (an
 *    mf_queue of natsMsg*, capacity collector.buffer, pushed without waiting).
 *  - nats.c's PubAck delivery thread runs on_ack: counts acks; a timed-out or client-side
 *    failed publish moves its natsMsg (Msg-Id header included) into `held`.
 *  - "pub-retry" pops `held` while connected and republishes (it may wait for an in-flight
 *    slot: it is the only caller allowed to).
 * Whoever pops a natsMsg from `held` owns it. Counters are atomics. */
#include "publisher.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/queue.h"
#include "mf/util.h"

#define ACK_WAIT_MS 3000
#define STALL_WAIT_MS 200
#define RETRY_BATCH 64

struct coll_pub {
    mf_nats *n;
    natsConnection *nc; /* borrowed from n */
    jsCtx *js;          /* ours; NULL in transport=core */
    mf_queue *held;
    pthread_t retry;
    int retry_started;
    atomic_int stop;
    atomic_llong published, acked, duplicates, retried, dropped, errors;
    atomic_llong *m_published, *m_acked, *m_retried, *m_dropped, *m_errors, *m_held;
};

static void count(atomic_llong *local, atomic_llong *metric, long long n) {
    atomic_fetch_add(local, n);
    atomic_fetch_add(metric, n);
}

/* Takes ownership of m: held, or destroyed and counted as dropped. */
static mf_status hold(coll_pub *p, natsMsg *m) {
    if (mf_queue_push(p->held, m, 0) == MF_OK) {
        atomic_store(p->m_held, (long long)mf_queue_len(p->held));
        return MF_OK;
    }
    natsMsg_Destroy(m);
    count(&p->dropped, p->m_dropped, 1);
    mf_log_ratelimited(MF_LOG_WARN, 5000, "publish buffer full: ticks dropped total=%lld",
                       (long long)atomic_load(&p->dropped));
    return MF_ERR_FULL;
}

static int retryable(const jsPubAckErr *pae) {
    /* Server API errors (ErrCode != 0) will not change on a retry; timeouts, a missing
     * responder (stream leader moving) and connection failures may. */
    return pae->ErrCode == 0;
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
    coll_pub *p = closure;
    (void)js;
    if (pa != NULL) {
        count(&p->acked, p->m_acked, 1);
        if (pa->Duplicate) atomic_fetch_add(&p->duplicates, 1);
        natsMsg_Destroy(msg);
        return;
    }
    if (pae != NULL && retryable(pae) && !atomic_load(&p->stop)) {
        mf_log_ratelimited(MF_LOG_WARN, 5000, "publish not acknowledged (%s): retrying",
                           natsStatus_GetText(pae->Err));
        hold(p, msg);
        return;
    }
    count(&p->errors, p->m_errors, 1);
    mf_log_ratelimited(MF_LOG_ERROR, 5000, "publish failed: %s (js error %d: %s)",
                       pae ? natsStatus_GetText(pae->Err) : "?", pae ? (int)pae->ErrCode : 0,
                       pae && pae->ErrText ? pae->ErrText : "");
    natsMsg_Destroy(msg);
}

/* One publish attempt of a message we own. On NATS_OK the library took it (js) or it was
 * sent and destroyed (core); otherwise it is still ours. */
static natsStatus send_msg(coll_pub *p, natsMsg **m) {
    natsStatus ns;
    if (p->js != NULL) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = ACK_WAIT_MS;
        return js_PublishMsgAsync(p->js, m, &po);
    }
    ns = natsConnection_PublishMsg(p->nc, *m);
    if (ns == NATS_OK) {
        natsMsg_Destroy(*m);
        *m = NULL;
    }
    return ns;
}

static void *retry_main(void *arg) {
    coll_pub *p = arg;
    void *items[RETRY_BATCH];
    size_t n;
    mf_thread_name("pub-retry");
    while (!atomic_load(&p->stop)) {
        if (!mf_nats_connected(p->n)) {
            mf_sleep_ms(50);
            continue;
        }
        if (mf_queue_pop_many(p->held, items, RETRY_BATCH, &n, 100) != MF_OK) continue;
        for (size_t i = 0; i < n; i++) {
            natsMsg *m = items[i];
            natsStatus ns = mf_nats_connected(p->n) ? send_msg(p, &m) : NATS_NOT_YET_CONNECTED;
            if (ns == NATS_OK) {
                count(&p->retried, p->m_retried, 1);
                continue;
            }
            hold(p, m); /* back of the line; try again shortly */
            if (i + 1 == n) mf_sleep_ms(20);
        }
        atomic_store(p->m_held, (long long)mf_queue_len(p->held));
    }
    return NULL;
}

mf_status coll_pub_tick(void *ctx, const mf_tick *t) {
    coll_pub *p = ctx;
    char subj[160], json[512], id[192];
    natsMsg *m = NULL;
    int len = mf_tick_to_json(t, json, sizeof(json));
    if (len < 0 ||
        mf_nats_subject(p->n, subj, sizeof(subj), "ticks.%s.%s", t->exchange, t->symbol) != 0) {
        count(&p->errors, p->m_errors, 1);
        return MF_ERR_FULL;
    }
    if (p->js == NULL && mf_nats_connected(p->n) &&
        natsConnection_Publish(p->nc, subj, json, len) == NATS_OK) {
        count(&p->published, p->m_published, 1);
        return MF_OK;
    }
    if (natsMsg_Create(&m, subj, NULL, json, len) != NATS_OK) {
        count(&p->errors, p->m_errors, 1);
        return MF_ERR_FULL;
    }
    if (p->js != NULL) {
        if (mf_tick_msg_id(t, id, sizeof(id)) < 0 ||
            natsMsgHeader_Set(m, "Nats-Msg-Id", id) != NATS_OK) {
            natsMsg_Destroy(m);
            count(&p->errors, p->m_errors, 1);
            return MF_ERR_FULL;
        }
        if (mf_nats_connected(p->n) && send_msg(p, &m) == NATS_OK) {
            count(&p->published, p->m_published, 1);
            return MF_OK;
        }
    }
    return hold(p, m); /* it goes out from `held` (counted as retried then) */
}

static void pub_metrics(coll_pub *p) {
    p->m_published = mf_counter("collector_published_total", "", "ticks handed to NATS");
    p->m_acked = mf_counter("collector_acked_total", "", "JetStream PubAcks received");
    p->m_retried = mf_counter("collector_publish_retries_total", "", "ticks republished");
    p->m_dropped = mf_counter("collector_publish_dropped_total", "",
                              "ticks dropped because the hold buffer was full");
    p->m_errors = mf_counter("collector_publish_errors_total", "", "publishes the server refused");
    p->m_held = mf_gauge("collector_publish_held", "", "ticks held while NATS is away");
}

mf_status coll_pub_create(coll_pub **out, mf_nats *n, const mf_config *cfg) {
    coll_pub *p = mf_xcalloc(1, sizeof(*p));
    p->n = n;
    p->nc = mf_nats_conn(n);
    pub_metrics(p);
    if (cfg->nats.transport == MF_TRANSPORT_JETSTREAM) {
        jsOptions jo;
        natsStatus ns;
        jsOptions_Init(&jo);
        jo.Wait = 5000;
        jo.PublishAsync.MaxPending = cfg->collector.max_inflight;
        jo.PublishAsync.StallWait = STALL_WAIT_MS;
        jo.PublishAsync.AckHandler = on_ack;
        jo.PublishAsync.AckHandlerClosure = p;
        ns = natsConnection_JetStream(&p->js, p->nc, &jo);
        if (ns != NATS_OK) {
            free(p);
            return mf_nats_fail(ns, "jetstream context (publisher)");
        }
    }
    MF_ASSERT(mf_queue_create(&p->held, (size_t)cfg->collector.buffer) == MF_OK);
    p->retry_started = pthread_create(&p->retry, NULL, retry_main, p) == 0;
    MF_ASSERT(p->retry_started);
    *out = p;
    return MF_OK;
}

static void stop_retry(coll_pub *p) {
    atomic_store(&p->stop, 1);
    if (p->retry_started) pthread_join(p->retry, NULL);
    p->retry_started = 0;
}

void coll_pub_flush(coll_pub *p, int timeout_ms) {
    int64_t end = mf_mono_ms() + timeout_ms;
    size_t left;
    if (p == NULL) return;
    while (mf_queue_len(p->held) > 0 && mf_nats_connected(p->n) && mf_mono_ms() < end)
        mf_sleep_ms(20);
    stop_retry(p);
    if (p->js != NULL && mf_nats_connected(p->n)) {
        jsPubOptions po;
        int64_t rest = end - mf_mono_ms();
        jsPubOptions_Init(&po);
        po.MaxWait = rest > 100 ? rest : 100;
        if (js_PublishAsyncComplete(p->js, &po) != NATS_OK)
            mf_log(MF_LOG_WARN, "shutdown: some PubAcks did not arrive in time");
    } else if (mf_nats_connected(p->n)) {
        natsConnection_FlushTimeout(p->nc, 1000);
    }
    left = mf_queue_len(p->held);
    if (left > 0) {
        count(&p->dropped, p->m_dropped, (long long)left);
        mf_log(MF_LOG_WARN, "shutdown: %zu held ticks not published", left);
    }
}

void coll_pub_destroy(coll_pub *p) {
    void *m;
    if (p == NULL) return;
    stop_retry(p);
    while (mf_queue_pop(p->held, &m, 0) == MF_OK) natsMsg_Destroy(m);
    jsCtx_Destroy(p->js);
    mf_queue_destroy(p->held);
    free(p);
}

void coll_pub_stats_get(coll_pub *p, coll_pub_stats *s) {
    s->published = atomic_load(&p->published);
    s->acked = atomic_load(&p->acked);
    s->duplicates = atomic_load(&p->duplicates);
    s->retried = atomic_load(&p->retried);
    s->held = (long long)mf_queue_len(p->held);
    s->dropped = atomic_load(&p->dropped);
    s->errors = atomic_load(&p->errors);
}

void coll_pub_status_fill(json_t *status, coll_pub *p) {
    coll_pub_stats s;
    json_t *o = json_object();
    coll_pub_stats_get(p, &s);
    json_object_set_new(o, "transport", json_string(p->js ? "jetstream" : "core"));
    json_object_set_new(o, "published", json_integer(s.published));
    json_object_set_new(o, "acked", json_integer(s.acked));
    json_object_set_new(o, "duplicates", json_integer(s.duplicates));
    json_object_set_new(o, "retried", json_integer(s.retried));
    json_object_set_new(o, "held", json_integer(s.held));
    json_object_set_new(o, "dropped", json_integer(s.dropped));
    json_object_set_new(o, "errors", json_integer(s.errors));
    json_object_set_new(status, "publisher", o);
}
