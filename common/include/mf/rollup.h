/* rollup.h: window partials and their merge rules (DESIGN sections 4 and 5).
 *
 * A rollup is the summary of some ticks of one (exchange, symbol, window, start). Several
 * partials may exist for one key (one per aggregator instance, one per late correction);
 * mf_rollup_merge() combines them so that the result is exactly the rollup of the union of
 * their ticks, in any order and grouping:
 *   count adds; sum, volume and notional add exactly (mf_xsum);
 *   min keeps the smaller price, ties to the earlier min_ts; max likewise;
 *   open is the tick first in mf_tick_order (ts, id, price); close the last.
 * The empty rollup (count 0) is the identity. Pure domain code: no I/O, no locks. */
#ifndef MF_ROLLUP_H
#define MF_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

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
    int64_t count;
    mf_xsum sum; /* of prices */
    double min;
    int64_t min_ts;
    double max;
    int64_t max_ts;
    double open;
    int64_t open_ts;
    int64_t open_id; /* -1 when the tick had no id */
    double close;
    int64_t close_ts;
    int64_t close_id;
    mf_xsum volume;   /* of qty, ticks with qty only */
    mf_xsum notional; /* of price*qty (each product rounded once), ticks with qty only */
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

/* Adds one tick. The tick must belong to the rollup's key and bucket (not checked here). */
void mf_rollup_add(mf_rollup *r, const mf_tick *t);

/* Merges `b` into `a`. When a is empty, a takes b's key. Returns MF_ERR_INVALID_ARG when both
 * are non-empty and their keys differ. producer/seq of `a` are kept. */
mf_status mf_rollup_merge(mf_rollup *a, const mf_rollup *b);

/* 1 when the two hold the same statistics (key and counters; producer/seq ignored). */
int mf_rollup_same(const mf_rollup *a, const mf_rollup *b);

double mf_rollup_average(const mf_rollup *r); /* value(sum)/count; NAN when empty */
double mf_rollup_vwap(const mf_rollup *r);    /* value(notional)/value(volume); NAN if none */

/* JSON of the bus (DESIGN section 4): "sum", "volume", "notional" are the rounded values
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
