/* publisher.h: puts accepted ticks on the bus (DESIGN section 4); the coll_sink of main.
 *
 * transport=jetstream: one js_PublishMsgAsync per tick on <prefix>.ticks.<exchange>.<symbol>
 * with header Nats-Msg-Id = mf_tick_msg_id, at most collector.max_inflight unacknowledged
 * (a publisher at the limit waits up to 200 ms for a slot, then holds the tick). A PubAck
 * that times out (3 s) or fails in the client is retried with the same message (and so the
 * same Msg-Id: the stream drops a copy it already stored). transport=core: plain
 * natsConnection_Publish, no acknowledgements.
 *
 * While NATS is away, ticks are held in a bounded buffer (collector.buffer); when it is full
 * they are dropped and counted. Publishing never blocks a caller for more than ~200 ms. A
 * retry thread ("pub-retry") republishes held ticks once NATS is back. Thread-safe. */
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
    long long held;       /* in the buffer now */
    long long dropped;    /* buffer full: lost */
    long long errors;     /* rejected by the server (not retried) */
} coll_pub_stats;

/* `n` and `cfg` are borrowed and must outlive the publisher. */
mf_status coll_pub_create(coll_pub **out, mf_nats *n, const mf_config *cfg);
/* The sink function (ctx = the coll_pub). MF_OK when sent or held; MF_ERR_FULL when dropped. */
mf_status coll_pub_tick(void *ctx, const mf_tick *t);
/* At shutdown: republishes what is held and waits for outstanding PubAcks, at most
 * timeout_ms in all; then stops the retry thread. What is still held is counted as dropped. */
void coll_pub_flush(coll_pub *p, int timeout_ms);
/* Frees (accepts NULL). After coll_pub_flush; the NATS connection may already be closed. */
void coll_pub_destroy(coll_pub *p);

void coll_pub_stats_get(coll_pub *p, coll_pub_stats *s);
/* Adds "publisher":{transport, published, acked, duplicates, retried, held, dropped, errors}. */
void coll_pub_status_fill(json_t *status, coll_pub *p);

#endif
