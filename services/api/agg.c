/* agg.c: exact cross-exchange merging of price statistics. */
#include "agg.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mf/util.h"

void api_agg_init(api_agg *a) {
    memset(a, 0, sizeof(*a));
    mf_xsum_init(&a->sum);
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

static void take_extremes(api_agg *a, const api_extreme *mn, const api_extreme *mx, int64_t count) {
    if (a->count == 0 || api_extreme_lower(mn, &a->min)) a->min = *mn;
    if (a->count == 0 || api_extreme_higher(mx, &a->max)) a->max = *mx;
    a->count += count;
}

void api_agg_add(api_agg *a,
                 const char *exchange,
                 int64_t count,
                 const mf_xsum *sum,
                 double min,
                 int64_t min_ts,
                 double max,
                 int64_t max_ts) {
    api_extreme mn, mx;
    if (count <= 0) return;
    memset(&mn, 0, sizeof(mn));
    mn.price = min;
    mn.ts = min_ts;
    mf_strlcpy(mn.exchange, exchange, sizeof(mn.exchange));
    mx = mn;
    mx.price = max;
    mx.ts = max_ts;
    mf_xsum_merge(&a->sum, sum);
    take_extremes(a, &mn, &mx, count);
}

void api_agg_merge(api_agg *a, const api_agg *b) {
    if (b->sum_final) {
        a->sum_final = 1;
        a->sum_value = b->sum_value;
    }
    if (b->count <= 0) return;
    mf_xsum_merge(&a->sum, &b->sum);
    take_extremes(a, &b->min, &b->max, b->count);
}

void api_agg_add_rollup(api_agg *a, const mf_rollup *r) {
    api_agg_add(a, r->exchange, r->count, &r->sum, r->min, r->min_ts, r->max, r->max_ts);
}

double api_agg_average(const api_agg *a) {
    if (a->count <= 0) return NAN;
    if (a->sum_final) return a->sum_value / (double)a->count;
    return mf_xsum_value(&a->sum) / (double)a->count;
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
