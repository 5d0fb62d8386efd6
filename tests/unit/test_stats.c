/* Unit tests of stats.c: both forms of the statistics against an oracle computed without the
 * merge code (extremes by sorting, sums by one full mf_xsum pass over the ticks), the compact
 * form bit for bit equal to the full one under any adds and merges, and the merge laws. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mf/stats.h"

enum { NT = 600, CAP = 2 * NT }; /* ticks; ticks a slot may hold */

static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(uint64_t n) { /* xorshift64*: uniform enough for test data */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (rng * 2685821657736338717ULL) % n;
}

static mf_tick ticks[NT];

/* Ticks of one bucket: prices and qtys over a wide exponent range (long sums that spill), many
 * ties in price and ts, some ticks without id or qty. */
static void make_ticks(int n) {
    static const double tied[] = {100.25, 99.5, 100.25, 1e-9};
    for (int i = 0; i < n; i++) {
        mf_tick *t = &ticks[i];
        memset(t, 0, sizeof(*t));
        t->ts = 1795276404000LL + (int64_t)rnd(25);
        if (rnd(2))
            t->price = tied[rnd(4)];
        else
            t->price = ldexp((double)(rnd(1ULL << 52) + 1), (int)rnd(80) - 90);
        t->has_id = rnd(4) != 0;
        t->id = t->has_id ? (int64_t)rnd(50) : 0;
        t->has_qty = rnd(3) != 0;
        t->qty = t->has_qty ? ldexp((double)rnd(1ULL << 40), (int)rnd(60) - 50) : 0.0;
    }
}

/* ---- the oracle ------------------------------------------------------------------------ */

static int64_t id_of(const mf_tick *t) {
    return t->has_id ? t->id : -1;
}

static int cmp_i64(int64_t a, int64_t b) {
    return (a > b) - (a < b);
}

static int cmp_dbl(double a, double b) {
    return (a > b) - (a < b);
}

static int by_low(const void *pa, const void *pb) { /* lowest price first, then earliest */
    const mf_tick *a = &ticks[*(const int *)pa], *b = &ticks[*(const int *)pb];
    int c = cmp_dbl(a->price, b->price);
    return c ? c : cmp_i64(a->ts, b->ts);
}

static int by_high(const void *pa, const void *pb) { /* highest price first, then earliest */
    const mf_tick *a = &ticks[*(const int *)pa], *b = &ticks[*(const int *)pb];
    int c = cmp_dbl(b->price, a->price);
    return c ? c : cmp_i64(a->ts, b->ts);
}

static int by_time(const void *pa, const void *pb) { /* ts, then id (-1 first), then price */
    const mf_tick *a = &ticks[*(const int *)pa], *b = &ticks[*(const int *)pb];
    int c = cmp_i64(a->ts, b->ts);
    if (c == 0) c = cmp_i64(id_of(a), id_of(b));
    return c ? c : cmp_dbl(a->price, b->price);
}

/* Asserts that `s` holds the statistics of ticks[idx[0..n-1]]. */
static void check_oracle(const mf_stats *s, const int *idx, int n) {
    int sorted[CAP];
    const mf_tick *lo, *hi, *first, *last;
    mf_xsum sum, vol, notional;
    assert_int_equal(s->count, n);
    if (n == 0) return;
    mf_xsum_init(&sum);
    mf_xsum_init(&vol);
    mf_xsum_init(&notional);
    for (int i = 0; i < n; i++) {
        const mf_tick *t = &ticks[idx[i]];
        mf_xsum_add(&sum, t->price);
        if (!t->has_qty) continue;
        mf_xsum_add(&vol, t->qty);
        mf_xsum_add(&notional, t->price * t->qty);
    }
    memcpy(sorted, idx, sizeof(int) * (size_t)n);
    qsort(sorted, (size_t)n, sizeof(int), by_low);
    lo = &ticks[sorted[0]];
    qsort(sorted, (size_t)n, sizeof(int), by_high);
    hi = &ticks[sorted[0]];
    qsort(sorted, (size_t)n, sizeof(int), by_time);
    first = &ticks[sorted[0]];
    last = &ticks[sorted[n - 1]];
    assert_true(s->min == lo->price && s->min_ts == lo->ts);
    assert_true(s->max == hi->price && s->max_ts == hi->ts);
    assert_true(s->open == first->price && s->open_ts == first->ts && s->open_id == id_of(first));
    assert_true(s->close == last->price && s->close_ts == last->ts && s->close_id == id_of(last));
    assert_true(mf_xsum_equal(&s->sum, &sum));
    assert_true(mf_xsum_equal(&s->volume, &vol));
    assert_true(mf_xsum_equal(&s->notional, &notional));
    assert_true(mf_stats_average(s) == mf_xsum_value(&sum) / (double)n);
    if (mf_xsum_value(&vol) > 0)
        assert_true(mf_stats_vwap(s) == mf_xsum_value(&notional) / mf_xsum_value(&vol));
    else
        assert_true(isnan(mf_stats_vwap(s)));
}

/* ---- the compact form is the full form ------------------------------------------------- */

static int same_sum(const mf_xsum_small *c, const mf_xsum *f) {
    mf_xsum got;
    mf_xsum_small_get(c, &got);
    return got.n == f->n && memcmp(got.p, f->p, sizeof(double) * (size_t)f->n) == 0;
}

/* Bit for bit: the same marks and the same sum parts. */
static void assert_same_form(const mf_stats_small *c, const mf_stats *f) {
    assert_memory_equal(&c->marks, &f->marks, sizeof(mf_stats_marks));
    assert_true(same_sum(&c->sum, &f->sum));
    assert_true(same_sum(&c->volume, &f->volume));
    assert_true(same_sum(&c->notional, &f->notional));
}

typedef struct slot {
    mf_stats full;
    mf_stats_small small;
    int idx[CAP]; /* the ticks it holds (merges copy indices) */
    int n;
} slot;

static slot slots[3];

/* Random adds, merges (into empty, from empty, either order) and resets applied to both forms
 * side by side: after every step the forms agree bit for bit, and each slot holds exactly the
 * statistics of its ticks. */
static void test_compact_equals_full(void **state) {
    int spilled = 0; /* steps that left a sum spilled: the test must cover both layouts */
    (void)state;
    for (int round = 0; round < 60; round++) {
        make_ticks(NT);
        for (int k = 0; k < 3; k++) {
            mf_stats_init(&slots[k].full);
            mf_stats_small_init(&slots[k].small);
            slots[k].n = 0;
        }
        for (int step = 0; step < 400; step++) {
            slot *a = &slots[rnd(3)], *b = &slots[rnd(3)];
            uint64_t op = rnd(16);
            if (op < 12 && a->n < CAP) {
                int i = (int)rnd(NT);
                mf_stats_add(&a->full, &ticks[i]);
                mf_stats_small_add(&a->small, &ticks[i]);
                a->idx[a->n++] = i;
            } else if (op < 15 && a != b && a->n + b->n <= CAP) {
                mf_stats_merge(&a->full, &b->full);
                mf_stats_small_merge(&a->small, &b->small);
                memcpy(&a->idx[a->n], b->idx, sizeof(int) * (size_t)b->n);
                a->n += b->n;
            } else if (op == 15) {
                mf_stats_init(&a->full);
                mf_stats_small_cleanup(&a->small);
                a->n = 0;
            }
            assert_same_form(&a->small, &a->full);
            assert_same_form(&b->small, &b->full);
            spilled += a->small.sum.n < 0 || a->small.notional.n < 0;
        }
        for (int k = 0; k < 3; k++) {
            mf_stats got;
            mf_stats_small_get(&slots[k].small, &got);
            check_oracle(&got, slots[k].idx, slots[k].n);
            check_oracle(&slots[k].full, slots[k].idx, slots[k].n);
            mf_stats_small_cleanup(&slots[k].small);
        }
    }
    assert_true(spilled > 100);
}

/* ---- merge laws ------------------------------------------------------------------------ */

static void small_of(mf_stats_small *s, int from, int to) {
    mf_stats_small_init(s);
    for (int i = from; i < to; i++) mf_stats_small_add(s, &ticks[i]);
}

static void check_small(const mf_stats_small *s, int n) {
    int idx[NT];
    mf_stats got;
    for (int i = 0; i < n; i++) idx[i] = i;
    mf_stats_small_get(s, &got);
    check_oracle(&got, idx, n);
}

/* (a+b)+c, a+(b+c) and (c+b)+a, with the identity on both sides, all give the oracle of the
 * ticks of a, b and c together. */
static void test_merge_laws(void **state) {
    (void)state;
    for (int round = 0; round < 200; round++) {
        int n = 3 + (int)rnd(NT - 3), i1 = (int)rnd((uint64_t)n), i2 = (int)rnd((uint64_t)n);
        mf_stats_small a, b, c, x, empty;
        if (i1 > i2) {
            int t = i1;
            i1 = i2;
            i2 = t;
        }
        make_ticks(n);
        small_of(&a, 0, i1);
        small_of(&b, i1, i2);
        small_of(&c, i2, n);
        small_of(&empty, 0, 0);
        small_of(&x, 0, 0); /* (a+b)+c */
        mf_stats_small_merge(&x, &a);
        mf_stats_small_merge(&x, &empty);
        mf_stats_small_merge(&x, &b);
        mf_stats_small_merge(&x, &c);
        check_small(&x, n);
        mf_stats_small_cleanup(&x);
        small_of(&x, 0, 0); /* (c+b)+a */
        mf_stats_small_merge(&x, &c);
        mf_stats_small_merge(&x, &b);
        mf_stats_small_merge(&x, &a);
        check_small(&x, n);
        mf_stats_small_cleanup(&x);
        mf_stats_small_merge(&b, &c); /* a+(b+c) */
        mf_stats_small_merge(&a, &b);
        check_small(&a, n);
        mf_stats_small_cleanup(&a);
        mf_stats_small_cleanup(&b);
        mf_stats_small_cleanup(&c);
    }
}

/* Empty statistics: the identity, with no average and no VWAP. */
static void test_empty(void **state) {
    mf_stats e, s;
    (void)state;
    mf_stats_init(&e);
    assert_int_equal(e.count, 0);
    assert_int_equal(e.open_id, -1);
    assert_int_equal(e.close_id, -1);
    assert_true(isnan(mf_stats_average(&e)));
    assert_true(isnan(mf_stats_vwap(&e)));
    make_ticks(1);
    mf_stats_init(&s);
    mf_stats_add(&s, &ticks[0]);
    mf_stats_merge(&s, &e);
    assert_int_equal(s.count, 1);
    mf_stats_merge(&e, &s);
    assert_true(mf_stats_equal(&e, &s));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compact_equals_full),
        cmocka_unit_test(test_merge_laws),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
