/* agg.h: price statistics over a period, merged across buckets and exchanges.
 *
 * An api_agg is the common statistics (mf_stats: count, exact sums, min/max/open/close with
 * their timestamps) of every bucket read for an answer, merged with the rules of stats.h, plus
 * the exchange each extreme comes from. Across exchanges the rules gain one tie: between equal
 * prices at the same ts, min and max go to the smaller exchange name (strcmp). The values never
 * depend on that tie (the tied candidates have the same price and ts), only the label does. Hence
 * the result does not depend on the order buckets arrive in, and equals what one pass over the
 * raw ticks with the same tie rules gives. Plain data, pure code.
 *
 * The stores read what the answers need (count, sum, min, max: api_agg_add); whole statistics,
 * open, close, volume and notional included, merge through api_agg_add_stats. */
#ifndef API_AGG_H
#define API_AGG_H

#include <stdint.h>

#include "mf/rollup.h"
#include "mf/stats.h"
#include "mf/tick.h"
#include "mf/xsum.h"

typedef struct api_extreme {
    double price;
    int64_t ts;
    char exchange[MF_NAME_MAX + 1];
} api_extreme;

typedef struct api_agg {
    mf_stats st;
    char min_exchange[MF_NAME_MAX + 1]; /* where st.min was seen; valid when st.count > 0 */
    char max_exchange[MF_NAME_MAX + 1];
    int sum_final;    /* 1 when sum_value holds the correctly rounded total (database sum) */
    double sum_value; /* used instead of value(st.sum) when sum_final */
} api_agg;

void api_agg_init(api_agg *a);
/* Merges the statistics of one exchange's bucket(s). Ignored when st->count <= 0. */
void api_agg_add_stats(api_agg *a, const char *exchange, const mf_stats *st);
/* Adds one bucket read as count, sum, min and max (the rest of its statistics unknown: zero). */
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
/* The extremes with their exchanges (meaningful when a->st.count > 0). */
api_extreme api_agg_min(const api_agg *a);
api_extreme api_agg_max(const api_agg *a);

/* Parses the exact-sum field of a Redis bucket: parts joined by "," ("" = zero), each
 * read with strtod, added with mf_xsum_add. -1 on garbage. */
int api_xsum_parse(const char *s, mf_xsum *out);

/* 1 when (price a, ts a, ex a) wins against b as a minimum (lower, then earlier, then name). */
int api_extreme_lower(const api_extreme *a, const api_extreme *b);
/* Same for a maximum (higher, then earlier, then name). */
int api_extreme_higher(const api_extreme *a, const api_extreme *b);

#endif
