/* aggregator_internal.h: what aggregator.c (intake, status) and worker.c (windows, publish,
 * acks) share. Not a public interface. */
#ifndef AGG_AGGREGATOR_INTERNAL_H
#define AGG_AGGREGATOR_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "aggregator.h"
#include "mf/queue.h"
#include "mf/tick.h"
#include "window.h"

/* One decoded tick and the offset of its ack subject in the batch arena (UINT32_MAX: none). */
typedef struct agg_item {
    mf_tick tick;
    uint32_t ack_off;
    uint32_t delivered; /* JetStream delivery count (0: core) */
    uint64_t sseq;      /* stream sequence (0: core) */
} agg_item;

/* Ticks for one worker, built by the intake thread; whoever pops it owns it. */
typedef struct agg_batch {
    size_t n, cap;
    agg_item *items;
    char *arena;
    size_t alen, acap;
} agg_batch;

agg_batch *agg_batch_new(size_t cap);
void agg_batch_free(agg_batch *b);
/* Appends a tick; `ack` may be NULL. sseq/delivered come from the ack subject. */
void agg_batch_push(agg_batch *b, const mf_tick *t, const char *ack, size_t ack_len);

/* Reads the stream sequence and delivery count out of a JetStream ack subject
 * ($JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>, or the 12-token form
 * with domain and account hash). Returns 0, or -1 when it is not one. */
int agg_parse_ack_subject(const char *s, uint64_t *sseq, uint32_t *delivered);

/* Counters shared by every thread (registered once in aggregator_create). */
typedef struct agg_counters {
    atomic_llong *ticks_in;
    atomic_llong *rollups_out[MF_WIN_COUNT];
    atomic_llong *late_ticks;
    atomic_llong *late_corrections;
    atomic_llong *rejected_json;
    atomic_llong *rejected_old;
    atomic_llong *rejected_ahead;
    atomic_llong *latest_out;
    atomic_llong *acked;
    atomic_llong *publish_errors;
    atomic_llong *republished;
    atomic_llong *duplicates;   /* redelivered copies of ticks this worker already holds */
    atomic_llong *pending_acks; /* gauge: ticks held until their 1 s rollup is stored */
} agg_counters;

typedef struct agg_worker agg_worker;

/* Shared, read-only after start (except the atomics). */
typedef struct agg_shared {
    const mf_config *cfg;
    mf_nats *nats;
    natsConnection *nc;
    int jetstream; /* transport */
    char producer[64];
    char prefix[64];
    atomic_ullong seq; /* next rollup seq of this producer */
    agg_counters c;
    agg_window_cfg wcfg;
    /* Per-worker gauges, written by worker i, read by the heartbeat; they outlive workers. */
    atomic_llong *keys;
    atomic_llong *open;
} agg_shared;

/* Creates a worker and starts its thread. */
mf_status agg_worker_start(agg_worker **out, agg_shared *sh, int index);
/* Hands a batch to the worker (takes ownership on MF_OK). Waits up to timeout_ms when full. */
mf_status agg_worker_push(agg_worker *w, agg_batch *b, int timeout_ms);
/* Closes the worker's queue: it drains, flushes everything, waits for PubAcks, acks, exits. */
void agg_worker_close(agg_worker *w);
/* Joins the thread and frees the worker (accepts NULL). */
void agg_worker_join(agg_worker *w);

/* Acks one JetStream message by its reply subject (what natsMsg_Ack sends). */
void agg_ack_subject(agg_shared *sh, const char *subject);

#endif
