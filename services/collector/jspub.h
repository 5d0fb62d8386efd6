/* jspub.h: the collector's JetStream publishing pipeline (transport=jetstream), used by
 * publisher.c. Cross-file internal to the collector (coll__ names).
 *
 * Workers hand encoded ticks over in batches (coll__jspub_push); one publisher thread
 * ("pub-js") sends them as core publishes with a reply subject on a private inbox, keeps a
 * fixed ring of collector.max_inflight in-flight slots and matches the PubAcks that arrive on
 * one wildcard subscription, all through the common publisher (mf/jspub.h). Details in
 * jspub.c. */
#ifndef COLL_JSPUB_H
#define COLL_JSPUB_H

#include <stdatomic.h>
#include <stddef.h>

#include "mf/config.h"
#include "mf/nats_util.h"
#include "mf/status.h"
#include "mf/tick.h"

/* The most ticks one coll__jspub_push takes. */
#define COLL_JSPUB_BATCH 64

/* Counters shared with publisher.c: the status value and its Prometheus series. */
typedef struct coll__pub_counts {
    atomic_llong published, acked, duplicates, retried, dropped, errors;
    atomic_llong *m_published, *m_acked, *m_retried, *m_dropped, *m_errors, *m_held;
} coll__pub_counts;

void coll__count(atomic_llong *local, atomic_llong *metric, long long n);

typedef struct coll__jspub coll__jspub;

/* Subscribes the PubAck inbox and starts the publisher thread. `n`, `cfg` and `c` are
 * borrowed and outlive the pipeline. */
mf_status
coll__jspub_create(coll__jspub **out, mf_nats *n, const mf_config *cfg, coll__pub_counts *c);
/* Encodes n (<= COLL_JSPUB_BATCH) ticks and queues them for the publisher thread. Never waits
 * while NATS is away; while connected waits at most 200 ms for room. MF_OK when queued,
 * MF_ERR_FULL when the buffer (collector.buffer ticks) is full: all n dropped and counted. */
mf_status coll__jspub_push(coll__jspub *j, const mf_tick *t, size_t n);
/* Publishes what is queued and waits for the PubAcks, at most timeout_ms in all, then stops
 * the thread and the inbox. Ticks still queued are counted as dropped. */
void coll__jspub_flush(coll__jspub *j, int timeout_ms);
/* Frees (accepts NULL); flushes with a zero timeout first if that was not done. */
void coll__jspub_destroy(coll__jspub *j);
/* mf_tick_msg_id(t) computed with the price text of t's bus JSON (`json`, from
 * mf_tick_to_json) instead of formatting the price a second time. Same result; exposed for
 * the unit test that checks it. */
int coll__msg_id_from_json(const mf_tick *t, const char *json, int json_len, char *buf, size_t size);
long long coll__jspub_held(coll__jspub *j);     /* ticks queued, not yet sent */
long long coll__jspub_inflight(coll__jspub *j); /* sent, waiting for their PubAck */

#endif
