/* rollup.h: window partials (docs/design.md sections 4 and 5).
 *
 * A rollup is the statistics (stats.h) of some ticks of one (exchange, symbol, window, start),
 * with the producer and sequence number that identify it on the bus. Several partials may exist
 * for one key (one per aggregator instance, one per late correction); mf_rollup_merge() combines
 * them with the rules of stats.h, so that the result is exactly the rollup of the union of their
 * ticks, in any order and grouping. Plain data, pure domain code: no I/O, no locks. */
#ifndef MF_ROLLUP_H
#define MF_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#include "mf/stats.h"
#include "mf/status.h"
#include "mf/tick.h"
#include "mf/xsum.h"

typedef enum mf_window { MF_WIN_1S = 0, MF_WIN_1M = 1, MF_WIN_COUNT } mf_window;

int64_t mf_window_ms(mf_window w);                  /* 1000, 60000 */
const char *mf_window_name(mf_window w);            /* "1s", "1m" */
int mf_window_parse(const char *s, mf_window *out); /* 0 or -1 */
/* Start of the UTC-aligned bucket holding ts (floor, correct for negative ts too). */
int64_t mf_window_start(int64_t ts, mf_window w);

typedef struct mf_rollup {
    char exchange[MF_NAME_MAX + 1];
    char symbol[MF_NAME_MAX + 1];
    mf_window window;
    int64_t start; /* bucket start, Unix ms */
    mf_stats st;
    char producer[64];
    uint64_t seq;
} mf_rollup;

/* Makes `r` the empty rollup of a key. Names are copied (truncated names are the caller's
 * bug: both come from validated ticks). producer is "" and seq 0. */
void mf_rollup_init(mf_rollup *r,
                    const char *exchange,
                    const char *symbol,
                    mf_window w,
                    int64_t start);

/* Adds one tick (mf_stats_add). The tick must belong to the rollup's key and bucket (not checked
 * here). */
void mf_rollup_add(mf_rollup *r, const mf_tick *t);

/* Merges `b` into `a` (mf_stats_merge). When a is empty, a takes b's key. Returns MF_ERR_INVALID_ARG
 * when both are non-empty and their keys differ. producer/seq of `a` are kept. */
mf_status mf_rollup_merge(mf_rollup *a, const mf_rollup *b);

/* 1 when the two hold the same statistics (key and counters; producer/seq ignored). */
int mf_rollup_same(const mf_rollup *a, const mf_rollup *b);

/* JSON of the bus (docs/design.md section 4): "sum", "volume", "notional" are the rounded values
 * and "sum_x", "volume_x", "notional_x" the exact expansions, from which consumers that
 * know them merge exactly. Returns a new reference. */
struct json_t;
struct json_t *mf_rollup_to_jsonobj(const mf_rollup *r);
/* Serialises into a malloc'ed buffer (caller frees); sets *len. NULL on failure. */
char *mf_rollup_to_json(const mf_rollup *r, size_t *len);
/* Parses a rollup; accepts the plain form without the *_x fields too. */
mf_status mf_rollup_from_json(const char *buf, size_t len, mf_rollup *out);
mf_status mf_rollup_from_jsonobj(const struct json_t *root, mf_rollup *out);

#endif
