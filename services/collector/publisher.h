/* publisher.h: puts accepted ticks on the bus (docs/design.md section 4); the coll_sink of main.
 *
 * transport=jetstream (jspub.h): workers hand encoded ticks in batches to one publisher
 * thread, which publishes each on <prefix>.ticks.<exchange>.<symbol> with header Nats-Msg-Id =
 * mf_tick_msg_id and a reply subject on a private inbox, keeps at most collector.max_inflight
 * without PubAck, and publishes again (same Msg-Id: the stream drops a copy it already
 * stored) what has no PubAck after 3 s. PubAcks with a JetStream error are counted.
 * transport=core: plain natsConnection_Publish from the worker, no acknowledgements.
 *
 * Ticks wait in a bounded buffer (collector.buffer ticks) while NATS is away (and, in
 * jetstream, while the publisher thread is behind); when it is full they are dropped and
 * counted. A caller never waits while NATS is away, and at most ~200 ms otherwise.
 * Thread-safe. */
#ifndef COLL_PUBLISHER_H
#define COLL_PUBLISHER_H

#include <jansson.h>

#include "mf/config.h"
#include "mf/nats_util.h"
#include "mf/status.h"
#include "mf/tick.h"

typedef struct coll_pub coll_pub;

typedef struct coll_pub_stats {
    long long published;  /* handed to NATS (first attempts) */
    long long acked;      /* PubAcks received (jetstream), duplicates included */
    long long duplicates; /* PubAcks that said "already stored" */
    long long retried;    /* republished after a timeout, a failure or a disconnect */
    long long held;       /* in the buffer now (not yet sent) */
    long long inflight;   /* jetstream: sent, waiting for their PubAck */
    long long dropped;    /* buffer full: lost */
    long long errors;     /* rejected by the server (not retried) */
} coll_pub_stats;

/* `n` and `cfg` are borrowed and must outlive the publisher. */
mf_status coll_pub_create(coll_pub **out, mf_nats *n, const mf_config *cfg);
/* The sink functions (ctx = the coll_pub). coll_pub_tick: MF_OK when sent or held,
 * MF_ERR_FULL when dropped. coll_pub_ticks: n ticks at once (cheaper); returns how many were
 * dropped. */
mf_status coll_pub_tick(void *ctx, const mf_tick *t);
size_t coll_pub_ticks(void *ctx, const mf_tick *t, size_t n);
/* At shutdown, after the last caller: publishes what is held and waits for outstanding
 * PubAcks, at most timeout_ms in all (gives up at once while NATS is away); then stops the
 * publisher threads. What is still held is counted as dropped. */
void coll_pub_flush(coll_pub *p, int timeout_ms);
/* Frees (accepts NULL). After coll_pub_flush; the NATS connection may already be closed. */
void coll_pub_destroy(coll_pub *p);

void coll_pub_stats_get(coll_pub *p, coll_pub_stats *s);
/* Adds "publisher":{transport, published, acked, duplicates, retried, held, inflight,
 * dropped, errors}. */
void coll_pub_status_fill(json_t *status, coll_pub *p);

#endif
