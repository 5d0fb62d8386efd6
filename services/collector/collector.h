/* collector.h: the collector core: one reader thread per feed, a worker pool per feed that
 * decodes (through the feed's adapter), validates and normalises messages into ticks and
 * hands them to a sink (the publisher).
 *
 * The core knows no NATS: feeds come in through the feed port (feed.h) and ticks leave
 * through coll_sink, so tests run it with an in-memory feed and a recording sink. */
#ifndef COLL_COLLECTOR_H
#define COLL_COLLECTOR_H

#include <jansson.h>

#include "feed.h"
#include "mf/config.h"
#include "mf/status.h"
#include "mf/tick.h"

/* Where accepted ticks go. Called concurrently from every worker thread; must not block for
 * long. publish() returns MF_OK when the tick was taken (sent or held) and MF_ERR_FULL when
 * it had to be dropped (counted by the sink). publish_many (optional; used instead when set)
 * takes up to COLL_SINK_BATCH ticks of one feed batch at once and returns how many it
 * dropped. */
#define COLL_SINK_BATCH 64
typedef struct coll_sink {
    mf_status (*publish)(void *ctx, const mf_tick *t);
    void *ctx;
    size_t (*publish_many)(void *ctx, const mf_tick *t, size_t n);
} coll_sink;

typedef struct collector collector;

/* Creates the collector with no feeds open. `cfg` is borrowed (read-only, outlives it).
 * `ops` NULL: each endpoint is read through the adapter of its kind (coll_feed_ops_for);
 * else `ops` serves every endpoint (tests). */
mf_status
coll_create(collector **out, const mf_config *cfg, const coll_feed_ops *ops, coll_sink sink);
/* Switches to `mode`: closes the feeds of the current mode (their readers stop, their
 * workers drain) and opens exchanges.live or exchanges.test. A no-op when already in that
 * mode. Called from one thread at a time (main's loop). */
mf_status coll_set_mode(collector *c, mf_mode mode);
/* Returns the current mode, or -1 before the first coll_set_mode. */
int coll_mode(collector *c);
/* Closes every feed and drains the workers into the sink. Idempotent. */
void coll_stop(collector *c);
/* Frees (accepts NULL); calls coll_stop first. */
void coll_destroy(collector *c);

/* Adds "mode" and "feeds":[{name, endpoint, connected, lines, ticks, rejected{reason:n},
 * last_tick_ts, last_recv_ts, reconnects, dropped}] to a status object. Thread-safe. */
void coll_status_fill(json_t *status, collector *c);

/* Totals over the feeds open now (tests and benchmarks). */
typedef struct coll_totals {
    long long lines, ticks, rejected[MF_REJECT_COUNT], dropped;
    int feeds, connected;
} coll_totals;
void coll_totals_get(collector *c, coll_totals *t);

#endif
