/* feed.h: the feed port (docs/design.md sections 9 and 10): how the collector reaches one
 * exchange feed, whatever its wire format.
 *
 * An adapter per feed kind is a const table of functions (coll_feed_ops) and an open
 * connection is an object (coll_feed_conn) that carries its table, so the collector core
 * only talks to this port: the line adapter (feed_line.c) now, a Binance WebSocket adapter
 * later, an in-memory feed in tests. The adapter owns framing and decoding: the collector
 * never sees a wire format.
 *
 * Two steps, on two kinds of thread:
 *  - next(), on the feed's one reader thread: reads the connection and frames what came into
 *    a batch of frames, each with a shard key (a hash of its symbol) so that the core can
 *    spread frames over its worker pool and keep each symbol's order.
 *  - decode(), on the worker threads, concurrently: turns one frame into one message (a tick
 *    now; a depth diff or a snapshot for Binance). It touches no connection state.
 * So the reader thread only splits and hashes (memchr-speed) and the decoding, the bulk of
 * the cost per message, runs in parallel on workers_per_feed threads. The core then
 * validates what the decoder cannot know, normalises (exchange name, receive time), counts
 * and dispatches to the sink.
 *
 * Ownership: frames are borrowed from the connection until its next next() or close();
 * a decoded message's level arrays (depth, snapshot) are borrowed from the `scratch` the
 * caller handed to decode(). */
#ifndef COLL_FEED_H
#define COLL_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "mf/config.h"
#include "mf/status.h"
#include "mf/tick.h"

/* ---- messages (docs/design.md sections 10 and 11) ----------------------------------------- */

typedef enum coll_msg_kind {
    COLL_MSG_TICK = 0, /* a trade: mf_tick */
    COLL_MSG_DEPTH,    /* a depth diff (Binance `depthUpdate`: U, u, E, b, a) */
    COLL_MSG_SNAPSHOT, /* a book snapshot (REST depth: lastUpdateId, bids, asks) */
} coll_msg_kind;

#define COLL_DECIMAL_MAX 40 /* longest decimal string of a price or quantity, with its NUL */

/* One price level as the exchange wrote it: decimal strings, never doubles (section 12). */
typedef struct coll_level {
    char price[COLL_DECIMAL_MAX];
    char qty[COLL_DECIMAL_MAX]; /* "0" (any zero) deletes the level */
} coll_level;

typedef struct coll_levels {
    const coll_level *v; /* borrowed, see the ownership note above */
    size_t n;
} coll_levels;

/* A depth diff: every change with update ids in [first_id, last_id]. */
typedef struct coll_depth {
    char exchange[MF_NAME_MAX + 1];
    char symbol[MF_NAME_MAX + 1];
    int64_t first_id; /* U */
    int64_t last_id;  /* u */
    int64_t ts;       /* E: event time, Unix ms */
    coll_levels bids, asks;
} coll_depth;

/* A snapshot: the book as of update id last_id. */
typedef struct coll_snapshot {
    char exchange[MF_NAME_MAX + 1];
    char symbol[MF_NAME_MAX + 1];
    int64_t last_id; /* lastUpdateId */
    int64_t ts;      /* when it was taken, Unix ms */
    coll_levels bids, asks;
} coll_snapshot;

typedef struct coll_msg {
    coll_msg_kind kind;
    union {
        mf_tick tick;
        coll_depth depth;
        coll_snapshot snapshot;
    } u;
} coll_msg;

/* ---- frames: what next() hands out ------------------------------------------------------- */

typedef struct coll_frame {
    const char *data; /* one message in the adapter's wire format, borrowed */
    uint32_t len;
    uint32_t key; /* shard key: frames of one symbol have the same key */
} coll_frame;

typedef struct coll_frames {
    const coll_frame *v; /* borrowed until the next next() or close() */
    size_t n;
    /* Messages the framing had to skip whole (a line over the length limit): rejected as
     * MF_REJECT_TOO_LONG by the core, which counts and logs them. */
    size_t too_long;
} coll_frames;

/* ---- the port ----------------------------------------------------------------------------- */

typedef struct coll_feed_ops coll_feed_ops;

/* What every adapter's connection starts with; the adapter's own state follows it. */
typedef struct coll_feed_conn {
    const coll_feed_ops *ops;
} coll_feed_conn;

/* What open() needs besides the endpoint. */
typedef struct coll_feed_opts {
    size_t max_line; /* collector.max_line: longest frame accepted, in bytes */
} coll_feed_opts;

/* What decode() needs to validate timestamps while it parses (the line decoder checks its
 * window in the same pass). Bounds of 0 disable that side. */
typedef struct coll_decode_env {
    int64_t now_ms;
    int64_t max_past_ms;   /* aggregator.max_lateness_s */
    int64_t max_future_ms; /* aggregator.max_skew_s */
} coll_decode_env;

struct coll_feed_ops {
    const char *kind; /* "line" */
    /* Connects to `ep` within timeout_ms. On MF_OK *out is the connection, released with
     * coll_feed_close. MF_ERR_IO / MF_ERR_TIMEOUT when the feed is not there. */
    mf_status (*open)(coll_feed_conn **out,
                      const mf_endpoint *ep,
                      const coll_feed_opts *opts,
                      int timeout_ms);
    /* Waits at most timeout_ms for data and frames it. MF_OK with out->n + out->too_long > 0
     * (or 0 when only a partial frame came); MF_ERR_TIMEOUT when nothing came; MF_ERR_CLOSED
     * when the peer closed; MF_ERR_IO on an error. Reader thread only. */
    mf_status (*next)(coll_feed_conn *c, coll_frames *out, int timeout_ms);
    /* Decodes one frame of this kind into *out. Thread-safe (no connection state); fills
     * what the wire carries and leaves exchange and recv_ts to the core. Returns
     * MF_REJECT_NONE or why the frame is rejected. */
    mf_reject (*decode)(const char *frame, size_t len, const coll_decode_env *env, coll_msg *out);
    /* Optional (NULL when the kind has no REST side): fetches a snapshot of `symbol` with at
     * most `limit` levels per side into *reply, levels stored in `scratch` (cap levels).
     * May be called from another thread than the reader's. */
    mf_status (*snapshot)(coll_feed_conn *c,
                          const char *symbol,
                          int limit,
                          coll_level *scratch,
                          size_t cap,
                          coll_snapshot *reply);
    /* Closes and frees the connection. */
    void (*close)(coll_feed_conn *c);
};

/* The one destroy: closes `c` through its table. Accepts NULL. */
void coll_feed_close(coll_feed_conn *c);

/* The adapter of a feed kind, or NULL when that kind is not built. */
const coll_feed_ops *coll_feed_ops_for(mf_feed_kind kind);

/* ---- the line adapter (feed_line.c; the protocol of docs/design.md section 3) ------------- */

extern const coll_feed_ops coll_feed_line; /* over TCP */

/* The byte stream under the line adapter: TCP in production, memory in tests. */
typedef struct coll_stream_ops {
    /* Connects to ep within timeout_ms; *conn is released with close(). */
    mf_status (*connect)(void **conn, const mf_endpoint *ep, int timeout_ms);
    /* Reads up to cap bytes, waiting at most timeout_ms. MF_OK with *n > 0; MF_ERR_TIMEOUT,
     * MF_ERR_CLOSED (peer closed), MF_ERR_IO. */
    mf_status (*read)(void *conn, char *buf, size_t cap, size_t *n, int timeout_ms);
    void (*close)(void *conn); /* accepts NULL */
} coll_stream_ops;

extern const coll_stream_ops coll_stream_tcp; /* stream_tcp.c */

/* The line adapter's shard key: FNV-1a of the line's "symbol" string value, 0 when it has
 * none (such a line is rejected by decode anyway). Exposed for tests. */
unsigned coll_symbol_hash(const char *line, size_t len);

/* Opens a line feed over `stream` (coll_feed_line.open is this over coll_stream_tcp). The
 * connection's table is `ops` (a copy of coll_feed_line's functions, or a test's). */
mf_status coll_feed_line_open_on(coll_feed_conn **out,
                                 const coll_feed_ops *ops,
                                 const coll_stream_ops *stream,
                                 const mf_endpoint *ep,
                                 const coll_feed_opts *opts,
                                 int timeout_ms);

#endif
