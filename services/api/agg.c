/* agg.c: exact cross-exchange merging of price statistics (the rules of stats.h, exchange labels
 * for the extremes). */
#include "agg.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mf/util.h"

void api_agg_init(api_agg *a) {
    memset(a, 0, sizeof(*a));
    mf_stats_init(&a->st);
}

static int tie_later(const api_extreme *a, const api_extreme *b) {
    if (a->ts != b->ts) return a->ts < b->ts;
    return strcmp(a->exchange, b->exchange) < 0;
}

int api_extreme_lower(const api_extreme *a, const api_extreme *b) {
    if (a->price != b->price) return a->price < b->price;
    return tie_later(a, b);
}

int api_extreme_higher(const api_extreme *a, const api_extreme *b) {
    if (a->price != b->price) return a->price > b->price;
    return tie_later(a, b);
}

static api_extreme extreme(double price, int64_t ts, const char *exchange) {
    api_extreme x = {.price = price, .ts = ts};
    mf_strlcpy(x.exchange, exchange, sizeof(x.exchange));
    return x;
}

api_extreme api_agg_min(const api_agg *a) {
    return extreme(a->st.min, a->st.min_ts, a->min_exchange);
}

api_extreme api_agg_max(const api_agg *a) {
    return extreme(a->st.max, a->st.max_ts, a->max_exchange);
}

/* Merges statistics whose min was seen on min_ex and max on max_ex: the labels follow the
 * cross-exchange rule, the values the common merge (they agree: see agg.h). */
static void merge_labelled(api_agg *a, const mf_stats *b, const char *min_ex, const char *max_ex) {
    api_extreme bmin = extreme(b->min, b->min_ts, min_ex);
    api_extreme bmax = extreme(b->max, b->max_ts, max_ex);
    api_extreme amin = api_agg_min(a), amax = api_agg_max(a);
    if (b->count <= 0) return;
    if (a->st.count == 0 || api_extreme_lower(&bmin, &amin))
        mf_strlcpy(a->min_exchange, min_ex, sizeof(a->min_exchange));
    if (a->st.count == 0 || api_extreme_higher(&bmax, &amax))
        mf_strlcpy(a->max_exchange, max_ex, sizeof(a->max_exchange));
    mf_stats_merge(&a->st, b);
}

void api_agg_add_stats(api_agg *a, const char *exchange, const mf_stats *st) {
    merge_labelled(a, st, exchange, exchange);
}

void api_agg_add(api_agg *a,
                 const char *exchange,
                 int64_t count,
                 const mf_xsum *sum,
                 double min,
                 int64_t min_ts,
                 double max,
                 int64_t max_ts) {
    mf_stats b;
    if (count <= 0) return;
    mf_stats_init(&b);
    b.count = count;
    b.sum = *sum;
    b.min = min;
    b.min_ts = min_ts;
    b.max = max;
    b.max_ts = max_ts;
    api_agg_add_stats(a, exchange, &b);
}

void api_agg_merge(api_agg *a, const api_agg *b) {
    if (b->sum_final) {
        a->sum_final = 1;
        a->sum_value = b->sum_value;
    }
    merge_labelled(a, &b->st, b->min_exchange, b->max_exchange);
}

void api_agg_add_rollup(api_agg *a, const mf_rollup *r) {
    api_agg_add_stats(a, r->exchange, &r->st);
}

double api_agg_average(const api_agg *a) {
    if (a->st.count <= 0) return NAN;
    if (a->sum_final) return a->sum_value / (double)a->st.count;
    return mf_xsum_value(&a->st.sum) / (double)a->st.count;
}

int api_xsum_parse(const char *s, mf_xsum *out) {
    mf_xsum_init(out);
    while (s && *s) {
        char *end;
        double v;
        errno = 0;
        v = strtod(s, &end);
        if (end == s || errno == ERANGE || !isfinite(v)) return -1;
        mf_xsum_add(out, v);
        if (*end == ',')
            end++;
        else if (*end != '\0')
            return -1;
        s = end;
    }
    return 0;
}
