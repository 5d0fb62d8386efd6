/* agg.h: price statistics over a period, merged across buckets and exchanges.
 *
 * The exact-merge rules of rollup.h extended across exchanges: count adds, the sum of
 * prices adds exactly (mf_xsum), min keeps the lower price with ties to the earlier ts and
 * then to the smaller exchange name (strcmp), max likewise with the higher price. Hence the
 * result does not depend on the order buckets arrive in, and equals what one pass over the
 * raw ticks with the same tie rules gives. Plain data, pure code. */
#ifndef API_AGG_H
#define API_AGG_H

#include <stdint.h>

#include "mf/rollup.h"
#include "mf/tick.h"
#include "mf/xsum.h"

typedef struct api_extreme {
    double price;
    int64_t ts;
    char exchange[MF_NAME_MAX + 1];
} api_extreme;

typedef struct api_agg {
    int64_t count;
    mf_xsum sum;
    api_extreme min; /* valid when count > 0 */
    api_extreme max;
    int sum_final;    /* 1 when sum_value holds the correctly rounded total (database sum) */
    double sum_value; /* used instead of value(sum) when sum_final */
} api_agg;

void api_agg_init(api_agg *a);
/* Adds one bucket's statistics. Ignored when count <= 0. */
void api_agg_add(api_agg *a,
                 const char *exchange,
                 int64_t count,
                 const mf_xsum *sum,
                 double min,
                 int64_t min_ts,
                 double max,
                 int64_t max_ts);
/* Merges b into a. */
void api_agg_merge(api_agg *a, const api_agg *b);
/* Adds a rollup (its exchange is the rollup's). */
void api_agg_add_rollup(api_agg *a, const mf_rollup *r);
/* value(sum)/count: the correctly rounded exact sum divided as doubles. NAN when empty. */
double api_agg_average(const api_agg *a);

/* Parses the exact-sum field of a Redis bucket: parts joined by "," ("" = zero), each
 * read with strtod, added with mf_xsum_add. -1 on garbage. */
int api_xsum_parse(const char *s, mf_xsum *out);

/* 1 when (price a, ts a, ex a) wins against b as a minimum (lower, then earlier, then name). */
int api_extreme_lower(const api_extreme *a, const api_extreme *b);
/* Same for a maximum (higher, then earlier, then name). */
int api_extreme_higher(const api_extreme *a, const api_extreme *b);

#endif
