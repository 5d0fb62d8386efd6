/* sink.h: the persister's sink port (docs/design.md section 9: ports and adapters).
 *
 * The core (core.c) consumes rollup partials from the bus, batches them and acks them only
 * after the sink says they are committed. Each storage technology is one adapter behind
 * one const ops table: PostgreSQL (sink_pg.c) and Redis (sink_redis.c).
 * Every function is called from the core's thread only, except on_latest (any thread) and
 * fill_status (the heartbeat thread). */
#ifndef PERS_SINK_H
#define PERS_SINK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mf/rollup.h"
#include "mf/status.h"
#include "mf/tick.h"

/* What one write did. */
typedef struct pers_result {
    int64_t applied;    /* partials merged for the first time */
    int64_t duplicates; /* partials already merged before (redelivery, second replica) */
    int64_t rows;       /* rows (PostgreSQL minutes) or hashes (Redis buckets) written */
    int64_t skipped;    /* partials the sink deliberately ignores (outside the cache window) */
} pers_result;

/* An adapter's functions. `impl` is the adapter's object (pers_sink.impl). */
typedef struct pers_sink_ops {
    const char *name; /* "postgres" or "redis": the consumer name and the status "sink" */
    /* Connects (or reconnects) when needed, without blocking long. MF_OK when usable. */
    mf_status (*ensure)(void *impl);
    /* Writes and commits `n` partials (1 s rollups, distinct (producer, seq) in a batch).
     * MF_OK only once they are durable in the sink; any other status means nothing of the
     * batch may be acked and the same batch will be offered again. Idempotent. */
    mf_status (*write)(void *impl, const mf_rollup *rollups, size_t n, pers_result *res);
    /* 1 while the sink's server is connected (status, /healthz). */
    int (*connected)(void *impl);
    /* Optional: 1 when the sink lost its state (fresh cache) and wants the retention window
     * replayed from the stream; rebuild_done() is called once the replay was written. */
    int (*want_rebuild)(void *impl);
    void (*rebuild_done)(void *impl);
    /* Optional: the newest tick of a key (core NATS <prefix>.latest.>). Called on a NATS
     * thread: must only record it, without I/O. `t` is borrowed. */
    void (*on_latest)(void *impl, const mf_tick *t);
    /* Optional: called about every 100 ms from the core loop (flush latest, health ping). */
    void (*idle)(void *impl);
    /* Adds sink-specific status fields. Called on the heartbeat thread: read atomics only. */
    void (*fill_status)(void *impl, json_t *status);
    void (*destroy)(void *impl); /* accepts NULL impl */
} pers_sink_ops;

/* A sink: its adapter's ops table and object. Made by an adapter's create function
 * (sink_pg.h, sink_redis.h), freed with pers_sink_destroy. */
typedef struct pers_sink {
    const pers_sink_ops *ops;
    void *impl;
    int rebuild_window_s; /* with want_rebuild: seconds of history a rebuild replays */
} pers_sink;

/* Frees the adapter's object and the sink. Accepts NULL. */
void pers_sink_destroy(pers_sink *s);

#endif
