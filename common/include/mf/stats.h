/* stats.h: the statistics of some ticks of one key, and their merge (docs/design.md sections 4
 * and 5).
 *
 * One value type serves every service: the aggregator builds it from ticks, the bus carries it in
 * a rollup (rollup.h), the persister and the api merge it. mf_stats_merge() combines two so that
 * the result is exactly the statistics of the union of their ticks, in any order and grouping:
 *   count adds; sum (of prices), volume and notional add exactly (mf_xsum);
 *   min keeps the smaller price, ties to the earlier min_ts; max likewise;
 *   open is the tick first in mf_tick_order (ts, id, price); close the last.
 * Adding a tick is merging the statistics of that one tick. The empty statistics (count 0) are
 * the identity. Pure domain code: no I/O, no locks.
 *
 * Two forms share these rules and their fields: mf_stats (plain data with full sums, ~1 KB, copied
 * by assignment) and mf_stats_small (compact sums, ~180 B, owns their spills), which the
 * aggregator keeps per open bucket. Both forms fed the same ticks and merges in the same order
 * hold the same values and the same sum parts, bit for bit. */
#ifndef MF_STATS_H
#define MF_STATS_H

#include <stdint.h>

#include "mf/tick.h"
#include "mf/xsum.h"

/* Everything but the sums. min/max/open/close are meaningful only when count > 0. */
#define MF_STATS_MARKS                                \
    int64_t count;                                    \
    double min;                                       \
    int64_t min_ts;                                   \
    double max;                                       \
    int64_t max_ts;                                   \
    double open;                                      \
    int64_t open_ts;                                  \
    int64_t open_id; /* -1 when the tick had no id */ \
    double close;                                     \
    int64_t close_ts;                                 \
    int64_t close_id;

typedef struct mf_stats_marks {
    MF_STATS_MARKS
} mf_stats_marks;

/* The fields are reached directly (s.count, s.min) or together as s.marks (the same bytes, like
 * the kernel's struct_group). */
typedef struct mf_stats {
    union {
        mf_stats_marks marks;
        struct {
            MF_STATS_MARKS
        };
    };
    mf_xsum sum;      /* of prices */
    mf_xsum volume;   /* of qty, ticks with qty only */
    mf_xsum notional; /* of price*qty (each product rounded once), ticks with qty only */
} mf_stats;

/* The empty statistics: count 0, every mark 0 but the ids (-1), the sums empty. */
void mf_stats_init(mf_stats *s);
/* Adds one tick (its key is the caller's business). */
void mf_stats_add(mf_stats *s, const mf_tick *t);
/* Merges b into a (a and b may be the same object only when b is empty). When a is empty, a
 * becomes a copy of b; when b is empty, a is unchanged. */
void mf_stats_merge(mf_stats *a, const mf_stats *b);
/* 1 when both hold the same statistics: the same count and, unless empty, the same marks and the
 * same exact sums. */
int mf_stats_equal(const mf_stats *a, const mf_stats *b);
double mf_stats_average(const mf_stats *s); /* value(sum)/count; NAN when empty */
double mf_stats_vwap(const mf_stats *s);    /* value(notional)/value(volume); NAN if no volume */

/* The compact form: same marks, sums as mf_xsum_small. Caller storage: mf_stats_small_init,
 * then mf_stats_small_cleanup (frees the spills). Moving it by assignment is fine when the source
 * is then dropped without cleanup; copying is not (mf_stats_small_merge into an empty one). */
typedef struct mf_stats_small {
    union {
        mf_stats_marks marks;
        struct {
            MF_STATS_MARKS
        };
    };
    mf_xsum_small sum, volume, notional;
} mf_stats_small;

void mf_stats_small_init(mf_stats_small *s);
void mf_stats_small_cleanup(mf_stats_small *s); /* `s` is then empty again */
void mf_stats_small_add(mf_stats_small *s, const mf_tick *t);
/* mf_stats_merge for the compact form (a and b distinct; b is unchanged, a gets its own copy of
 * b's sums). */
void mf_stats_small_merge(mf_stats_small *a, const mf_stats_small *b);
/* The full form of `s`: the same marks, the same sum parts in the same order. */
void mf_stats_small_get(const mf_stats_small *s, mf_stats *out);

#endif
