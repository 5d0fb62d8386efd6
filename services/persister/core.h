/* core.h: the persister core, shared by both sinks: consume 1 s rollups from the durable
 * consumer, batch, write through the sink port, ack only after the sink committed. */
#ifndef PERS_CORE_H
#define PERS_CORE_H

#include <jansson.h>

#include "mf/config.h"
#include "mf/nats_util.h"
#include "sink.h"

typedef struct pers_core pers_core;

/* Creates the core for `sink` (borrowed: it must outlive the core). Nothing is subscribed
 * until the first pers_core_poll. */
mf_status pers_core_create(pers_core **out, mf_nats *nats, const mf_config *cfg, pers_sink *sink);

/* One turn of the core loop (called by main until a stop): binds the durable consumer when
 * it is not bound (retrying until a stop; returns 1 if the stop came first), rebuilds when
 * the sink asks, fetches one batch (waiting up to flush_ms), writes it, acks. Returns 0. */
int pers_core_poll(pers_core *c);

/* After the last poll: the batch in hand is committed (or released with a NAK when the sink
 * is down, so another replica takes it over) and the subscriptions end. Accepts NULL. */
void pers_core_stop(pers_core *c);

/* Heartbeat callback (mf_heartbeat_fill): status fields of the core and the sink. */
void pers_core_fill_status(json_t *status, void *ctx);

/* Frees (accepts NULL). Only after pers_core_stop. */
void pers_core_destroy(pers_core *c);

/* The durable consumer name for a sink: "<prefix>-persister-<sink>" with characters other
 * than [A-Za-z0-9_-] replaced by '_'. Returns 0, or -1 when it did not fit. */
int pers_durable_name(const char *prefix, const char *sink, char *buf, size_t size);

#endif
