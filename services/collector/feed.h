/* feed.h: the feed port (DESIGN section 9): how the collector reaches one exchange feed.
 *
 * A feed adapter is a table of functions; the collector core only talks to this table, so a
 * TCP line feed (coll_feed_tcp, below) and a WebSocket adapter (later) plug in the same way,
 * and tests plug in an in-memory feed. One connection is used by one reader thread only. */
#ifndef COLL_FEED_H
#define COLL_FEED_H

#include <stddef.h>

#include "mf/config.h"
#include "mf/status.h"

typedef struct coll_feed_ops {
    const char *kind; /* "tcp" */
    /* Connects to `ep` within timeout_ms. On MF_OK *conn is the adapter's connection, to be
     * released with close(). MF_ERR_IO / MF_ERR_TIMEOUT when the feed is not there. */
    mf_status (*connect)(void **conn, const mf_endpoint *ep, int timeout_ms);
    /* Reads up to `cap` bytes of the feed's byte stream into buf, waiting at most timeout_ms.
     * MF_OK with *n > 0; MF_ERR_TIMEOUT when nothing came; MF_ERR_CLOSED when the peer
     * closed; MF_ERR_IO on a socket error. */
    mf_status (*read)(void *conn, char *buf, size_t cap, size_t *n, int timeout_ms);
    /* Closes and frees the connection. Accepts NULL. */
    void (*close)(void *conn);
} coll_feed_ops;

/* The exchange line protocol over TCP (DESIGN section 3). */
extern const coll_feed_ops coll_feed_tcp;

#endif
