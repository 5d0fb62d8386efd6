/* aggregator.h: the aggregator service core (see aggregator.c for its DESIGN).
 *
 * aggregator_create() starts the worker pool and then the intake (JetStream pull consumer or
 * core queue subscription). aggregator_stop() stops the intake, lets the workers drain their
 * queues, flushes every open partial, waits for the PubAcks and acks the ticks. */
#ifndef AGG_AGGREGATOR_H
#define AGG_AGGREGATOR_H

#include <jansson.h>

#include "mf/config.h"
#include "mf/nats_util.h"
#include "mf/status.h"

typedef struct aggregator aggregator;

/* Creates and starts the aggregator. `cfg` and `nats` are borrowed and must outlive it;
 * `instance` (copied) is the rollups' producer. In jetstream transport the durable consumer is
 * created or updated first, retried until it works or a stop is requested (MF_ERR_CLOSED). */
mf_status
aggregator_create(aggregator **out, const mf_config *cfg, mf_nats *nats, const char *instance);
/* Stops intake, drains, flushes, waits up to ~10 s for PubAcks and acks. Idempotent. */
void aggregator_stop(aggregator *a);
/* Frees (accepts NULL). After aggregator_stop. */
void aggregator_destroy(aggregator *a);
/* Periodic work of the main thread: refreshes the consumer lag (every 2 s at most). */
void aggregator_poll(aggregator *a);
/* mf_heartbeat_fill: adds ticks_in, rollups_out, late_corrections, rejected{reason},
 * pending_acks, lag, keys, open_windows. Thread-safe (atomics only). */
void aggregator_status_fill(json_t *status, void *ctx);

#endif
