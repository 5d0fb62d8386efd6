/* stats.c: the merge rules of docs/design.md section 4, once, for both forms of the statistics.
 *
 * Built with -ffp-contract=off (see CMakeLists.txt): price*qty must be rounded once, as the
 * oracle and every other consumer round it, never fused into the sum. */
#include "mf/stats.h"

#include <math.h>
#include <string.h>

/* The marks of one tick, as statistics of count 1. */
static void tick_marks(const mf_tick *t, mf_stats_marks *one) {
    one->count = 1;
    one->min = one->max = one->open = one->close = t->price;
    one->min_ts = one->max_ts = one->open_ts = one->close_ts = t->ts;
    one->open_id = one->close_id = t->has_id ? t->id : -1;
}

/* What a tick adds to the sums, in the order of the sums (price, volume, notional): its price,
 * then its qty and price*qty when it has a qty. Returns how many of them (1 or 3). */
static int tick_terms(const mf_tick *t, double v[3]) {
    v[0] = t->price;
    if (!t->has_qty) return 1;
    v[1] = t->qty;
    v[2] = t->price * t->qty;
    return 3;
}

/* Everything the rules say but the sums: min/max tie to the earlier ts; open/close by
 * mf_tick_order; count adds; an empty side is the identity. Inlined: it is most of the per-tick
 * work of mf_stats_small_add. */
static inline __attribute__((always_inline)) void marks_merge(mf_stats_marks *a,
                                                              const mf_stats_marks *b) {
    if (b->count == 0) return;
    if (a->count == 0) {
        *a = *b;
        return;
    }
    if (b->min < a->min || (b->min == a->min && b->min_ts < a->min_ts)) {
        a->min = b->min;
        a->min_ts = b->min_ts;
    }
    if (b->max > a->max || (b->max == a->max && b->max_ts < a->max_ts)) {
        a->max = b->max;
        a->max_ts = b->max_ts;
    }
    if (mf_tick_order(b->open_ts, b->open_id, b->open, a->open_ts, a->open_id, a->open) < 0) {
        a->open = b->open;
        a->open_ts = b->open_ts;
        a->open_id = b->open_id;
    }
    if (mf_tick_order(b->close_ts, b->close_id, b->close, a->close_ts, a->close_id, a->close) > 0) {
        a->close = b->close;
        a->close_ts = b->close_ts;
        a->close_id = b->close_id;
    }
    a->count += b->count;
}

static void marks_init(mf_stats_marks *m) {
    memset(m, 0, sizeof(*m));
    m->open_id = m->close_id = -1;
}

/* ---- full form ------------------------------------------------------------------------ */

void mf_stats_init(mf_stats *s) {
    marks_init(&s->marks);
    mf_xsum_init(&s->sum);
    mf_xsum_init(&s->volume);
    mf_xsum_init(&s->notional);
}

void mf_stats_add(mf_stats *s, const mf_tick *t) {
    mf_xsum *sums[3] = {&s->sum, &s->volume, &s->notional};
    mf_stats_marks one;
    double v[3];
    int n = tick_terms(t, v);
    tick_marks(t, &one);
    marks_merge(&s->marks, &one);
    for (int i = 0; i < n; i++) mf_xsum_add(sums[i], v[i]);
}

void mf_stats_merge(mf_stats *a, const mf_stats *b) {
    if (b->count == 0) return;
    if (a->count == 0) {
        *a = *b;
        return;
    }
    marks_merge(&a->marks, &b->marks);
    mf_xsum_merge(&a->sum, &b->sum);
    mf_xsum_merge(&a->volume, &b->volume);
    mf_xsum_merge(&a->notional, &b->notional);
}

int mf_stats_equal(const mf_stats *a, const mf_stats *b) {
    const mf_stats_marks *x = &a->marks, *y = &b->marks;
    if (x->count != y->count) return 0;
    if (x->count == 0) return 1;
    return x->min == y->min && x->min_ts == y->min_ts && x->max == y->max &&
           x->max_ts == y->max_ts && x->open == y->open && x->open_ts == y->open_ts &&
           x->open_id == y->open_id && x->close == y->close && x->close_ts == y->close_ts &&
           x->close_id == y->close_id && mf_xsum_equal(&a->sum, &b->sum) &&
           mf_xsum_equal(&a->volume, &b->volume) && mf_xsum_equal(&a->notional, &b->notional);
}

double mf_stats_average(const mf_stats *s) {
    return s->count > 0 ? mf_xsum_value(&s->sum) / (double)s->count : NAN;
}

double mf_stats_vwap(const mf_stats *s) {
    double v = mf_xsum_value(&s->volume);
    return v > 0 ? mf_xsum_value(&s->notional) / v : NAN;
}

/* ---- compact form --------------------------------------------------------------------- */

void mf_stats_small_init(mf_stats_small *s) {
    marks_init(&s->marks);
    mf_xsum_small_init(&s->sum);
    mf_xsum_small_init(&s->volume);
    mf_xsum_small_init(&s->notional);
}

void mf_stats_small_cleanup(mf_stats_small *s) {
    mf_xsum_small_cleanup(&s->sum);
    mf_xsum_small_cleanup(&s->volume);
    mf_xsum_small_cleanup(&s->notional);
    marks_init(&s->marks);
}

/* The aggregator's hot path: one call per tick, the rules inlined. */
void mf_stats_small_add(mf_stats_small *s, const mf_tick *t) {
    mf_stats_marks one;
    double v[3];
    int n = tick_terms(t, v);
    tick_marks(t, &one);
    marks_merge(&s->marks, &one);
    mf_xsum_small_add(&s->sum, v[0]);
    if (n == 1) return;
    mf_xsum_small_add(&s->volume, v[1]);
    mf_xsum_small_add(&s->notional, v[2]);
}

void mf_stats_small_merge(mf_stats_small *a, const mf_stats_small *b) {
    if (b->count == 0) return;
    if (a->count == 0) { /* a becomes a copy of b, as mf_stats_merge does */
        mf_stats_small_cleanup(a);
        a->marks = b->marks;
        mf_xsum_small_copy(&a->sum, &b->sum);
        mf_xsum_small_copy(&a->volume, &b->volume);
        mf_xsum_small_copy(&a->notional, &b->notional);
        return;
    }
    marks_merge(&a->marks, &b->marks);
    mf_xsum_small_merge(&a->sum, &b->sum);
    mf_xsum_small_merge(&a->volume, &b->volume);
    mf_xsum_small_merge(&a->notional, &b->notional);
}

void mf_stats_small_get(const mf_stats_small *s, mf_stats *out) {
    out->marks = s->marks;
    mf_xsum_small_get(&s->sum, &out->sum);
    mf_xsum_small_get(&s->volume, &out->volume);
    mf_xsum_small_get(&s->notional, &out->notional);
}
