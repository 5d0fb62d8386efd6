/* feed.c: the feed port's helpers (feed.h): the one destroy and the adapter of each kind. */
#include "feed.h"

#include <stddef.h>

void coll_feed_close(coll_feed_conn *c) {
    if (c != NULL) c->ops->close(c);
}

const coll_feed_ops *coll_feed_ops_for(mf_feed_kind kind) {
    switch (kind) {
    case MF_FEED_LINE: return &coll_feed_line;
    case MF_FEED_BINANCE: /* the Binance issue adds its adapter; config rejects the kind now */
    case MF_FEED_KIND_COUNT: break;
    }
    return NULL;
}
