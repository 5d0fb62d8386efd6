/* window.h: the event-time windows of one aggregator worker (docs/design.md section 5).
 *
 * An agg_windows holds, for the keys (exchange, symbol) one worker owns, the open 1 s and 1 min
 * buckets, the newest tick per key (for the conflated latest) and, per 1 s bucket, the JetStream
 * ack subjects of the ticks it covers. Pure domain code: no I/O, no locks, no clock (callers pass
 * `now_ms`, wall-clock Unix ms). Owned by one thread.
 *
 *   - A tick goes to the 1 s bucket of its ts (UTC-aligned). A bucket is flushed once
 *     now >= start + 1000 + grace_1s. A tick whose bucket is already due (flushed, or never
 *     opened here) opens a new partial for it, a correction, flushed on the next flush call.
 *   - A flushed 1 s partial is merged into this worker's 1 min bucket of its minute, flushed once
 *     now >= minute start + 60000 + grace_1m (a late one again starts a correction). So 1 min
 *     partials are built from 1 s partials only, never from raw ticks: same ticks, same result.
 *   - Ticks with ts < now - max_lateness or ts > now + max_skew are rejected.
 *   - A key with no open bucket and no tick for idle_expiry is forgotten (its latest too).
 *
 * Partials are emitted through a callback that takes ownership (agg_partial_free).
 *
 * Memory: buckets hold compact statistics (mf_stats_small) and compact ack subjects (acks.h),
 * about 250 B per bucket plus ~20 B per tick awaiting its ack; the full mf_rollup is only built
 * when a partial is serialised. */
#ifndef AGG_WINDOW_H
#define AGG_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "mf/rollup.h"
#include "mf/stats.h"
#include "mf/status.h"
#include "mf/tick.h"
#include "acks.h"

typedef struct agg_window_cfg {
    int64_t grace_ms[MF_WIN_COUNT]; /* 250, 2000 */
    int64_t max_lateness_ms;        /* 3600 s */
    int64_t max_skew_ms;            /* 30 s */
    int64_t idle_expiry_ms;         /* 600 s */
    int64_t latest_interval_ms;     /* 100 ms */
} agg_window_cfg;

/* What agg_windows_add did with a tick. */
typedef enum agg_add_result {
    AGG_ADD_OK = 0,       /* added to an open bucket */
    AGG_ADD_CORRECTION,   /* its bucket was due: added to a (new or open) correction partial */
    AGG_ADD_REJECT_OLD,   /* ts < now - max_lateness */
    AGG_ADD_REJECT_AHEAD, /* ts > now + max_skew */
} agg_add_result;

/* A flushed partial. `acks` holds the ack subjects of the ticks it covers (1 s partials of
 * JetStream ticks only), encoded against `heads` (read them with agg_partial_ack_next).
 * agg_partial_rollup gives the mf_rollup; producer and seq are the publisher's to set. */
typedef struct agg_partial {
    char exchange[MF_NAME_MAX + 1];
    char symbol[MF_NAME_MAX + 1];
    mf_window window;
    int correction; /* 1 when opened after its bucket was due */
    int64_t start;
    mf_stats_small st;
    agg_acks acks;
    const agg_ackheads *heads; /* owned by the agg_windows: outlives its partials' acks use */
} agg_partial;

void agg_partial_free(agg_partial *p); /* accepts NULL */
/* The full rollup (producer "", seq 0). */
void agg_partial_rollup(const agg_partial *p, mf_rollup *out);
/* Iterates the ack subjects: *pos starts at 0; returns buf (AGG_ACK_MAX bytes) or NULL. */
const char *agg_partial_ack_next(const agg_partial *p, size_t *pos, char *buf);

/* Receives a flushed partial and owns it from then on. */
typedef void (*agg_emit_fn)(agg_partial *p, void *ctx);
/* Receives the newest tick of a key (borrowed, valid during the call). */
typedef void (*agg_latest_fn)(const mf_tick *t, void *ctx);

typedef struct agg_windows agg_windows;

mf_status agg_windows_create(agg_windows **out, const agg_window_cfg *cfg);
/* Frees everything, including unflushed partials and their ack subjects (accepts NULL). */
void agg_windows_destroy(agg_windows *w);

/* Adds a validated tick. `ack` (may be NULL or "") is the ack subject to keep with the 1 s
 * bucket that takes the tick (copied). Rejected ticks change nothing. */
agg_add_result agg_windows_add(agg_windows *w, const mf_tick *t, const char *ack, int64_t now_ms);

/* For a redelivered copy of a tick already added: keeps `ack` (copied) with the open 1 s bucket
 * of the tick's second, so it is acked with the original. Returns 1, or 0 when that bucket is
 * not open (already flushed): the caller then acks it after the earlier partials' PubAcks. */
int agg_windows_attach_ack(agg_windows *w, const mf_tick *t, const char *ack);

/* Emits every due partial: first the 1 s ones (each merged into its 1 min bucket before it is
 * emitted), then the due 1 min ones. With `force`, every open partial is due (graceful stop).
 * Returns the number emitted. */
size_t agg_windows_flush(agg_windows *w, int64_t now_ms, int force, agg_emit_fn emit, void *ctx);

/* Calls `fn` for every key whose newest tick changed since it was last reported and was last
 * reported latest_interval_ms ago or more (conflation). With `force`, for every changed key.
 * Returns the number reported. */
size_t agg_windows_latest(agg_windows *w, int64_t now_ms, int force, agg_latest_fn fn, void *ctx);

/* The leading edge of the conflation, cheap enough to call after every batch: reports only
 * the keys that changed while their last report was already latest_interval_ms old (their
 * number, not the number of keys, is the cost). Keys that changed within the interval wait
 * for agg_windows_latest. */
size_t agg_windows_latest_due(agg_windows *w, int64_t now_ms, agg_latest_fn fn, void *ctx);

/* Forgets keys idle for idle_expiry_ms with no open bucket and nothing left to report.
 * Returns the number freed. */
size_t agg_windows_expire(agg_windows *w, int64_t now_ms);

size_t agg_windows_keys(const agg_windows *w);          /* keys held */
size_t agg_windows_open(const agg_windows *w);          /* open buckets, both windows */
size_t agg_windows_pending_ticks(const agg_windows *w); /* ack subjects held in open buckets */

#endif
