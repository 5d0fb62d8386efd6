/* publisher.c: the collector's sink: JetStream (jspub.c) or core publishing, with a bounded
 * hold buffer.
 *
 * DESIGN
 * transport=jetstream: everything goes through the jspub pipeline (jspub.c: workers queue
 * encoded batches, one publisher thread, PubAcks on a private inbox, fixed in-flight ring).
 * transport=core (unchanged):
 *  - callers (the collector's workers) publish directly while NATS is connected; otherwise,
 *    or when a publish fails, the message goes into `held` (an mf_queue of natsMsg*,
 *    capacity collector.buffer, pushed without waiting).
 *  - "pub-retry" pops `held` while connected and republishes.
 * Whoever pops a natsMsg from `held` owns it. Counters are atomics. */
#include "publisher.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jspub.h"
#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/queue.h"
#include "mf/subject.h"
#include "mf/util.h"

#define RETRY_BATCH 64

struct coll_pub {
    mf_nats *n;
    natsConnection *nc; /* borrowed from n */
    coll__jspub *js;    /* transport=jetstream; NULL in core */
    mf_queue *held;     /* transport=core */
    pthread_t retry;
    int retry_started;
    atomic_int stop;
    coll__pub_counts c;
    char subj_prefix[128]; /* "<prefix>.ticks." (core) */
};

void coll__count(atomic_llong *local, atomic_llong *metric, long long n) {
    atomic_fetch_add(local, n);
    atomic_fetch_add(metric, n);
}

/* ---- transport=core ------------------------------------------------------------------------ */

/* Takes ownership of m: held, or destroyed and counted as dropped. */
static mf_status hold(coll_pub *p, natsMsg *m) {
    if (mf_queue_push(p->held, m, 0) == MF_OK) {
        atomic_store(p->c.m_held, (long long)mf_queue_len(p->held));
        return MF_OK;
    }
    natsMsg_Destroy(m);
    coll__count(&p->c.dropped, p->c.m_dropped, 1);
    mf_log_ratelimited(MF_LOG_WARN, 5000, "publish buffer full: ticks dropped total=%lld",
                       (long long)atomic_load(&p->c.dropped));
    return MF_ERR_FULL;
}

/* One publish attempt of a message we own. On NATS_OK it was sent and destroyed; otherwise
 * it is still ours. */
static natsStatus send_msg(coll_pub *p, natsMsg **m) {
    natsStatus ns = natsConnection_PublishMsg(p->nc, *m);
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
                coll__count(&p->c.retried, p->c.m_retried, 1);
                continue;
            }
            hold(p, m); /* back of the line; try again shortly */
            if (i + 1 == n) mf_sleep_ms(20);
        }
        atomic_store(p->c.m_held, (long long)mf_queue_len(p->held));
    }
    return NULL;
}

static mf_status core_tick(coll_pub *p, const mf_tick *t) {
    char subj[MF_SUBJECT_MAX], json[512];
    natsMsg *m = NULL;
    int len = mf_tick_to_json(t, json, sizeof(json));
    if (len < 0 || mf_subject_tick(subj, sizeof(subj), p->subj_prefix, t) < 0) {
        coll__count(&p->c.errors, p->c.m_errors, 1);
        return MF_ERR_FULL;
    }
    if (mf_nats_connected(p->n) && natsConnection_Publish(p->nc, subj, json, len) == NATS_OK) {
        coll__count(&p->c.published, p->c.m_published, 1);
        return MF_OK;
    }
    if (natsMsg_Create(&m, subj, NULL, json, len) != NATS_OK) {
        coll__count(&p->c.errors, p->c.m_errors, 1);
        return MF_ERR_FULL;
    }
    return hold(p, m); /* it goes out from `held` (counted as retried then) */
}

static void core_flush(coll_pub *p, int timeout_ms) {
    int64_t end = mf_mono_ms() + timeout_ms;
    size_t left;
    while (mf_queue_len(p->held) > 0 && mf_nats_connected(p->n) && mf_mono_ms() < end)
        mf_sleep_ms(20);
    atomic_store(&p->stop, 1);
    if (p->retry_started) pthread_join(p->retry, NULL);
    p->retry_started = 0;
    if (mf_nats_connected(p->n)) natsConnection_FlushTimeout(p->nc, 1000);
    left = mf_queue_len(p->held);
    if (left > 0) {
        coll__count(&p->c.dropped, p->c.m_dropped, (long long)left);
        mf_log(MF_LOG_WARN, "shutdown: %zu held ticks not published", left);
    }
}

/* ---- the sink ---------------------------------------------------------------------------- */

mf_status coll_pub_tick(void *ctx, const mf_tick *t) {
    coll_pub *p = ctx;
    if (p->js != NULL) return coll__jspub_push(p->js, t, 1);
    return core_tick(p, t);
}

size_t coll_pub_ticks(void *ctx, const mf_tick *t, size_t n) {
    coll_pub *p = ctx;
    size_t dropped = 0;
    if (p->js != NULL) {
        for (size_t i = 0; i < n; i += COLL_JSPUB_BATCH) {
            size_t k = n - i < COLL_JSPUB_BATCH ? n - i : COLL_JSPUB_BATCH;
            if (coll__jspub_push(p->js, t + i, k) != MF_OK) dropped += k;
        }
        return dropped;
    }
    for (size_t i = 0; i < n; i++) dropped += core_tick(p, &t[i]) != MF_OK;
    return dropped;
}

static void pub_metrics(coll_pub *p) {
    coll__pub_counts *c = &p->c;
    c->m_published = mf_counter("collector_published_total", "", "ticks handed to NATS");
    c->m_acked = mf_counter("collector_acked_total", "", "JetStream PubAcks received");
    c->m_retried = mf_counter("collector_publish_retries_total", "", "ticks republished");
    c->m_dropped = mf_counter("collector_publish_dropped_total", "",
                              "ticks dropped because the hold buffer was full");
    c->m_errors = mf_counter("collector_publish_errors_total", "", "publishes the server refused");
    c->m_held = mf_gauge("collector_publish_held", "",
                         "ticks held for publishing (NATS away or the publisher behind)");
}

mf_status coll_pub_create(coll_pub **out, mf_nats *n, const mf_config *cfg) {
    coll_pub *p = mf_xcalloc(1, sizeof(*p));
    p->n = n;
    p->nc = mf_nats_conn(n);
    pub_metrics(p);
    if (cfg->nats.transport == MF_TRANSPORT_JETSTREAM) {
        mf_status s = coll__jspub_create(&p->js, n, cfg, &p->c);
        if (s != MF_OK) {
            free(p);
            return s;
        }
        *out = p;
        return MF_OK;
    }
    if (mf_subject_base(p->subj_prefix, sizeof(p->subj_prefix), mf_nats_prefix(n),
                        MF_SUBJECT_TICKS) < 0) {
        free(p);
        return MF_ERR_CONFIG;
    }
    MF_ASSERT(mf_queue_create(&p->held, (size_t)cfg->collector.buffer) == MF_OK);
    p->retry_started = pthread_create(&p->retry, NULL, retry_main, p) == 0;
    MF_ASSERT(p->retry_started);
    *out = p;
    return MF_OK;
}

void coll_pub_flush(coll_pub *p, int timeout_ms) {
    if (p == NULL) return;
    if (p->js != NULL)
        coll__jspub_flush(p->js, timeout_ms);
    else
        core_flush(p, timeout_ms);
}

void coll_pub_destroy(coll_pub *p) {
    void *m;
    if (p == NULL) return;
    if (p->js != NULL) {
        coll__jspub_destroy(p->js);
        free(p);
        return;
    }
    atomic_store(&p->stop, 1);
    if (p->retry_started) pthread_join(p->retry, NULL);
    while (mf_queue_pop(p->held, &m, 0) == MF_OK) natsMsg_Destroy(m);
    mf_queue_destroy(p->held);
    free(p);
}

void coll_pub_stats_get(coll_pub *p, coll_pub_stats *s) {
    s->published = atomic_load(&p->c.published);
    s->acked = atomic_load(&p->c.acked);
    s->duplicates = atomic_load(&p->c.duplicates);
    s->retried = atomic_load(&p->c.retried);
    s->held = p->js ? coll__jspub_held(p->js) : (long long)mf_queue_len(p->held);
    s->inflight = p->js ? coll__jspub_inflight(p->js) : 0;
    s->dropped = atomic_load(&p->c.dropped);
    s->errors = atomic_load(&p->c.errors);
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
    json_object_set_new(o, "inflight", json_integer(s.inflight));
    json_object_set_new(o, "dropped", json_integer(s.dropped));
    json_object_set_new(o, "errors", json_integer(s.errors));
    json_object_set_new(status, "publisher", o);
}
