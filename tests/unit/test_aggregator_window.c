/* Unit tests of services/aggregator/window.c: property style over seeded random tick sets.
 *
 * The property: whatever the arrival order, the clock, the split of ticks over several window
 * sets (instances or workers) and the flush moments, merging every emitted partial of a
 * (exchange, symbol, window, start) gives exactly the statistics computed directly from the
 * ticks of that bucket (the oracle below uses plain loops, not mf_rollup_add). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mf/rollup.h"
#include "window.h"

#define MAX_TICKS 4000
#define MAX_PARTS 20000
#define BASE_MS 1742457120000LL /* a minute boundary */

static uint64_t rng_state;
static uint64_t rnd(void) {
    uint64_t x = rng_state;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return rng_state = x;
}
static int64_t rnd_in(int64_t lo, int64_t hi) { /* inclusive */
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static const char *exchanges[] = {"exchange1", "exchange2", "exchange3"};
static const char *symbols[] = {"BTCUSDT", "ETHUSDT", "DOGEUSDT", "SOLUSDT"};

static mf_tick ticks[MAX_TICKS];
static int nticks;

/* Random ticks over `span_ms`, with deliberate ties: repeated prices, equal ts, equal ids. */
static void gen_ticks(uint64_t seed, int n, int64_t span_ms) {
    static const double pool[] = {100.25, 99.75, 100.0, 0.1, 1e-9, 3050.123456789012};
    rng_state = seed * 2654435761u + 88172645463325252ULL;
    nticks = n;
    for (int i = 0; i < n; i++) {
        mf_tick *t = &ticks[i];
        memset(t, 0, sizeof(*t));
        snprintf(t->exchange, sizeof(t->exchange), "%s", exchanges[rnd() % 3]);
        snprintf(t->symbol, sizeof(t->symbol), "%s", symbols[rnd() % 4]);
        t->ts = BASE_MS + rnd_in(0, span_ms / 7) * 7 % span_ms; /* coarse grid: equal ts */
        t->price = rnd() % 3 == 0 ? pool[rnd() % 6] : 100.0 + (double)(rnd() % 100000) / 997.0;
        t->recv_ts = t->ts + 2;
        if (rnd() % 2) {
            t->has_id = 1;
            t->id = rnd_in(0, 5);
        }
        if (rnd() % 2) {
            t->has_qty = 1;
            t->qty = (double)(rnd() % 1000) / 7.0;
        }
    }
}

static void shuffle(int *idx, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rnd() % (uint64_t)(i + 1)), tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
    }
}

/* ---- collecting partials --------------------------------------------------------------- */

/* A collected partial and its full rollup. */
typedef struct part {
    agg_partial *p;
    mf_rollup r;
    int correction;
    size_t nacks;
} part;

static part *parts[MAX_PARTS];
static int nparts;

static void collect(agg_partial *p, void *ctx) {
    part *c = malloc(sizeof(*c));
    (void)ctx;
    assert_true(nparts < MAX_PARTS);
    assert_non_null(c);
    c->p = p;
    agg_partial_rollup(p, &c->r);
    c->correction = p->correction;
    c->nacks = p->acks.n;
    parts[nparts++] = c;
}

static long dropped;
static void drop(agg_partial *p, void *ctx) {
    (void)ctx;
    dropped++;
    agg_partial_free(p);
}

static void free_parts(void) {
    for (int i = 0; i < nparts; i++) {
        agg_partial_free(parts[i]->p);
        free(parts[i]);
    }
    nparts = 0;
}

/* ---- the oracle ------------------------------------------------------------------------ */

static int64_t tid(const mf_tick *t) {
    return t->has_id ? t->id : -1;
}

/* (ts, id, price) lexicographic, written out independently of mf_tick_order. */
static int before(const mf_tick *a, const mf_tick *b) {
    if (a->ts != b->ts) return a->ts < b->ts;
    if (tid(a) != tid(b)) return tid(a) < tid(b);
    return a->price < b->price;
}

static void oracle(const char *ex, const char *sym, mf_window w, int64_t start, mf_rollup *o) {
    const mf_tick *first = NULL, *last = NULL;
    mf_rollup_init(o, ex, sym, w, start);
    for (int i = 0; i < nticks; i++) {
        const mf_tick *t = &ticks[i];
        if (strcmp(t->exchange, ex) || strcmp(t->symbol, sym) || mf_window_start(t->ts, w) != start)
            continue;
        if (o->st.count == 0 || t->price < o->st.min ||
            (t->price == o->st.min && t->ts < o->st.min_ts))
            o->st.min = t->price, o->st.min_ts = t->ts;
        if (o->st.count == 0 || t->price > o->st.max ||
            (t->price == o->st.max && t->ts < o->st.max_ts))
            o->st.max = t->price, o->st.max_ts = t->ts;
        if (first == NULL || before(t, first)) first = t;
        if (last == NULL || before(last, t)) last = t;
        o->st.count++;
        mf_xsum_add(&o->st.sum, t->price);
        if (t->has_qty) {
            mf_xsum_add(&o->st.volume, t->qty);
            mf_xsum_add(&o->st.notional, t->price * t->qty);
        }
    }
    if (first) {
        o->st.open = first->price, o->st.open_ts = first->ts, o->st.open_id = tid(first);
        o->st.close = last->price, o->st.close_ts = last->ts, o->st.close_id = tid(last);
    }
}

/* Every bucket of every tick, merged from the partials, equals the oracle; no partial covers
 * a bucket without ticks; the counts add up. */
static void check_against_oracle(void) {
    int64_t total[MF_WIN_COUNT] = {0, 0};
    for (int i = 0; i < nparts; i++) total[parts[i]->r.window] += parts[i]->r.st.count;
    assert_int_equal(total[MF_WIN_1S], nticks);
    assert_int_equal(total[MF_WIN_1M], nticks);
    for (int i = 0; i < nticks; i++) {
        for (int w = 0; w < MF_WIN_COUNT; w++) {
            int64_t start = mf_window_start(ticks[i].ts, (mf_window)w);
            mf_rollup merged, want;
            mf_rollup_init(&merged, ticks[i].exchange, ticks[i].symbol, (mf_window)w, start);
            for (int j = 0; j < nparts; j++) {
                const mf_rollup *r = &parts[j]->r;
                if (r->window != (mf_window)w || r->start != start ||
                    strcmp(r->exchange, ticks[i].exchange) || strcmp(r->symbol, ticks[i].symbol))
                    continue;
                assert_true(r->st.count > 0);
                assert_int_equal(mf_rollup_merge(&merged, r), MF_OK);
            }
            oracle(ticks[i].exchange, ticks[i].symbol, (mf_window)w, start, &want);
            assert_true(mf_rollup_same(&merged, &want));
        }
    }
}

static agg_window_cfg test_cfg(void) {
    agg_window_cfg c = {.grace_ms = {250, 2000},
                        .max_lateness_ms = 3600 * 1000LL,
                        .max_skew_ms = 30 * 1000LL,
                        .idle_expiry_ms = 600 * 1000LL,
                        .latest_interval_ms = 100};
    return c;
}

/* ---- properties ------------------------------------------------------------------------ */

/* In order, one window set, a clock just behind the ticks: no corrections, exact result. */
static void test_in_order(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        agg_windows *w;
        agg_window_cfg cfg = test_cfg();
        int idx[MAX_TICKS];
        gen_ticks(seed, 1500, 150000);
        for (int i = 0; i < nticks; i++) idx[i] = i;
        /* sort indexes by ts (insertion sort is fine at this size) */
        for (int i = 1; i < nticks; i++)
            for (int j = i; j > 0 && ticks[idx[j]].ts < ticks[idx[j - 1]].ts; j--) {
                int tmp = idx[j];
                idx[j] = idx[j - 1];
                idx[j - 1] = tmp;
            }
        assert_int_equal(agg_windows_create(&w, &cfg), MF_OK);
        for (int i = 0; i < nticks; i++) {
            const mf_tick *t = &ticks[idx[i]];
            int64_t now = t->ts + rnd_in(0, 100);
            assert_int_equal(agg_windows_add(w, t, NULL, now), AGG_ADD_OK);
            if (rnd() % 10 == 0) agg_windows_flush(w, now, 0, collect, NULL);
        }
        agg_windows_flush(w, INT64_MAX / 2, 1, collect, NULL);
        assert_int_equal(agg_windows_open(w), 0);
        for (int i = 0; i < nparts; i++) assert_int_equal(parts[i]->correction, 0);
        check_against_oracle();
        free_parts();
        agg_windows_destroy(w);
    }
}

/* Shuffled, split over several window sets, a clock that jumps so that many ticks are late:
 * corrections appear, and the merge is still exact, for both windows. */
static void test_shuffled_late_instances(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 25; seed++) {
        agg_window_cfg cfg = test_cfg();
        agg_windows *w[3];
        int idx[MAX_TICKS], ninst = 1 + (int)(seed % 3);
        long corrections = 0, late = 0;
        int64_t now = BASE_MS;
        gen_ticks(seed * 7919, 2000, 140000);
        for (int i = 0; i < nticks; i++) idx[i] = i;
        shuffle(idx, nticks);
        for (int k = 0; k < ninst; k++) assert_int_equal(agg_windows_create(&w[k], &cfg), MF_OK);
        for (int i = 0; i < nticks; i++) {
            const mf_tick *t = &ticks[idx[i]];
            int k = (int)(rnd() % (uint64_t)ninst);
            agg_add_result r;
            /* The clock moves forward, never below the tick, sometimes far ahead of it. */
            now += rnd_in(0, 150);
            if (now < t->ts) now = t->ts + rnd_in(0, 300);
            r = agg_windows_add(w[k], t, NULL, now);
            assert_true(r == AGG_ADD_OK || r == AGG_ADD_CORRECTION);
            late += r == AGG_ADD_CORRECTION;
            if (rnd() % 7 == 0) agg_windows_flush(w[k], now, 0, collect, NULL);
        }
        for (int k = 0; k < ninst; k++) {
            agg_windows_flush(w[k], now, 1, collect, NULL);
            assert_int_equal(agg_windows_open(w[k]), 0);
            agg_windows_destroy(w[k]);
        }
        for (int i = 0; i < nparts; i++) corrections += parts[i]->correction;
        assert_true(late > 0);
        assert_true(corrections > 0);
        check_against_oracle();
        free_parts();
    }
}

/* Each tick's ack subject comes back exactly once, with the 1 s partial of its bucket. */
static void test_acks_follow_ticks(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 10; seed++) {
        agg_window_cfg cfg = test_cfg();
        agg_windows *w;
        static int seen[MAX_TICKS];
        int idx[MAX_TICKS];
        int64_t now = BASE_MS;
        gen_ticks(seed + 1000, 1200, 100000);
        for (int i = 0; i < nticks; i++) idx[i] = i, seen[i] = 0;
        shuffle(idx, nticks);
        assert_int_equal(agg_windows_create(&w, &cfg), MF_OK);
        for (int i = 0; i < nticks; i++) {
            char ack[32];
            const mf_tick *t = &ticks[idx[i]];
            now += rnd_in(0, 120);
            if (now < t->ts) now = t->ts;
            snprintf(ack, sizeof(ack), "$JS.ACK.x.%d", idx[i]);
            agg_windows_add(w, t, ack, now);
            if (rnd() % 5 == 0) agg_windows_flush(w, now, 0, collect, NULL);
        }
        {
            size_t emitted = 0;
            for (int i = 0; i < nparts; i++) emitted += parts[i]->nacks;
            assert_int_equal(emitted + agg_windows_pending_ticks(w), (size_t)nticks);
        }
        agg_windows_flush(w, now, 1, collect, NULL);
        assert_int_equal(agg_windows_pending_ticks(w), 0);
        for (int i = 0; i < nparts; i++) {
            const part *p = parts[i];
            char buf[AGG_ACK_MAX];
            const char *a;
            size_t pos = 0;
            if (p->r.window == MF_WIN_1M) assert_int_equal(p->nacks, 0);
            assert_int_equal(p->nacks, p->r.window == MF_WIN_1S ? (size_t)p->r.st.count : 0);
            for (size_t k = 0; k < p->nacks; k++) {
                int ti;
                a = agg_partial_ack_next(p->p, &pos, buf);
                assert_non_null(a);
                ti = atoi(a + strlen("$JS.ACK.x."));
                assert_int_equal(mf_window_start(ticks[ti].ts, MF_WIN_1S), p->r.start);
                assert_string_equal(ticks[ti].symbol, p->r.symbol);
                seen[ti]++;
            }
            assert_null(agg_partial_ack_next(p->p, &pos, buf));
        }
        for (int i = 0; i < nticks; i++) assert_int_equal(seen[i], 1);
        free_parts();
        agg_windows_destroy(w);
    }
}

/* Timing: a 1 s bucket is due at end + grace, not before; a late tick opens a correction. */
static void test_deadlines_and_corrections(void **state) {
    agg_window_cfg cfg = test_cfg();
    agg_windows *w;
    mf_tick t;
    (void)state;
    memset(&t, 0, sizeof(t));
    snprintf(t.exchange, sizeof(t.exchange), "exchange1");
    snprintf(t.symbol, sizeof(t.symbol), "BTCUSDT");
    t.price = 100.5;
    t.ts = BASE_MS + 500;
    assert_int_equal(agg_windows_create(&w, &cfg), MF_OK);
    assert_int_equal(agg_windows_add(w, &t, NULL, BASE_MS + 600), AGG_ADD_OK);
    assert_int_equal(agg_windows_flush(w, BASE_MS + 1249, 0, collect, NULL), 0);
    assert_int_equal(agg_windows_flush(w, BASE_MS + 1250, 0, collect, NULL), 1);
    assert_int_equal(parts[0]->r.st.count, 1);
    assert_int_equal(parts[0]->correction, 0);
    /* A second tick for the flushed second: a correction, due at once. */
    t.price = 101.0;
    assert_int_equal(agg_windows_add(w, &t, NULL, BASE_MS + 1300), AGG_ADD_CORRECTION);
    assert_int_equal(agg_windows_add(w, &t, NULL, BASE_MS + 1301), AGG_ADD_CORRECTION);
    assert_int_equal(agg_windows_flush(w, BASE_MS + 1302, 0, collect, NULL), 1);
    assert_int_equal(parts[1]->r.st.count, 2);
    assert_int_equal(parts[1]->correction, 1);
    /* The minute: due at 60000 + 2000, holding all three ticks. */
    assert_int_equal(agg_windows_flush(w, BASE_MS + 61999, 0, collect, NULL), 0);
    assert_int_equal(agg_windows_flush(w, BASE_MS + 62000, 0, collect, NULL), 1);
    assert_int_equal(parts[2]->r.window, MF_WIN_1M);
    assert_int_equal(parts[2]->r.st.count, 3);
    assert_int_equal(parts[2]->correction, 0);
    /* A tick for that minute now: corrections for both windows, flushed together. */
    assert_int_equal(agg_windows_add(w, &t, NULL, BASE_MS + 70000), AGG_ADD_CORRECTION);
    assert_int_equal(agg_windows_flush(w, BASE_MS + 70001, 0, collect, NULL), 2);
    assert_int_equal(parts[3]->r.window, MF_WIN_1S);
    assert_int_equal(parts[4]->r.window, MF_WIN_1M);
    assert_int_equal(parts[4]->correction, 1);
    assert_int_equal(parts[4]->r.st.count, 1);
    assert_int_equal(agg_windows_open(w), 0);
    free_parts();
    agg_windows_destroy(w);
}

static void test_rejections(void **state) {
    agg_window_cfg cfg = test_cfg();
    agg_windows *w;
    mf_tick t;
    int64_t now = BASE_MS + 3600 * 1000LL;
    (void)state;
    memset(&t, 0, sizeof(t));
    snprintf(t.exchange, sizeof(t.exchange), "exchange1");
    snprintf(t.symbol, sizeof(t.symbol), "BTCUSDT");
    t.price = 1.0;
    assert_int_equal(agg_windows_create(&w, &cfg), MF_OK);
    t.ts = now - 3600 * 1000LL - 1;
    assert_int_equal(agg_windows_add(w, &t, "a", now), AGG_ADD_REJECT_OLD);
    t.ts = now + 30001;
    assert_int_equal(agg_windows_add(w, &t, "a", now), AGG_ADD_REJECT_AHEAD);
    t.ts = now + 30000;
    assert_int_equal(agg_windows_add(w, &t, NULL, now), AGG_ADD_OK);
    t.ts = now - 3600 * 1000LL;
    assert_int_equal(agg_windows_add(w, &t, NULL, now), AGG_ADD_CORRECTION);
    assert_int_equal(agg_windows_pending_ticks(w), 0);
    assert_int_equal(agg_windows_keys(w), 1);
    agg_windows_destroy(w); /* frees unflushed partials too (ASan checks) */
}

static mf_tick latest_seen[64];
static int nlatest;
static void on_latest(const mf_tick *t, void *ctx) {
    (void)ctx;
    latest_seen[nlatest++] = *t;
}

static long latest_count;
static void on_latest_count(const mf_tick *t, void *ctx) {
    (void)t, (void)ctx;
    latest_count++;
}

/* A fresh window set for the latest tests and a tick of one key; clears what they record. */
static agg_windows *latest_setup(mf_tick *t, const char *exchange, const char *symbol) {
    agg_window_cfg cfg = test_cfg();
    agg_windows *w = NULL;
    memset(t, 0, sizeof(*t));
    snprintf(t->exchange, sizeof(t->exchange), "%s", exchange);
    snprintf(t->symbol, sizeof(t->symbol), "%s", symbol);
    assert_int_equal(agg_windows_create(&w, &cfg), MF_OK);
    nlatest = 0;
    return w;
}

/* Latest: newest ts wins (an older tick never replaces it); at most one per interval. */
static void test_latest_conflation(void **state) {
    mf_tick t;
    agg_windows *w = latest_setup(&t, "exchange2", "ETHUSDT");
    (void)state;
    for (int i = 0; i < 10; i++) {
        t.ts = BASE_MS + 10 * i;
        t.price = 3000 + i;
        agg_windows_add(w, &t, NULL, BASE_MS + 10 * i);
    }
    t.ts = BASE_MS + 5; /* older: ignored for latest */
    t.price = 1;
    agg_windows_add(w, &t, NULL, BASE_MS + 95);
    assert_int_equal(agg_windows_latest(w, BASE_MS + 100, 0, on_latest, NULL), 1);
    assert_int_equal(latest_seen[0].ts, BASE_MS + 90);
    assert_true(latest_seen[0].price == 3009);
    t.ts = BASE_MS + 150;
    t.price = 3100;
    agg_windows_add(w, &t, NULL, BASE_MS + 150);
    assert_int_equal(agg_windows_latest(w, BASE_MS + 150, 0, on_latest, NULL), 0);
    assert_int_equal(agg_windows_latest(w, BASE_MS + 199, 0, on_latest, NULL), 0);
    assert_int_equal(agg_windows_latest(w, BASE_MS + 200, 0, on_latest, NULL), 1);
    assert_true(latest_seen[1].price == 3100);
    assert_int_equal(agg_windows_latest(w, BASE_MS + 900, 0, on_latest, NULL), 0);
    agg_windows_flush(w, 0, 1, collect, NULL);
    free_parts();
    agg_windows_destroy(w);
}

/* The leading edge: a change after a quiet interval is reported at once by
 * agg_windows_latest_due; a change within the interval waits for agg_windows_latest. */
static void test_latest_leading_edge(void **state) {
    mf_tick t;
    agg_windows *w = latest_setup(&t, "exchange1", "BTCUSDT");
    (void)state;
    t.ts = BASE_MS;
    t.price = 100;
    agg_windows_add(w, &t, NULL, BASE_MS);
    assert_int_equal(agg_windows_latest_due(w, BASE_MS, on_latest, NULL), 1); /* first */
    t.ts = BASE_MS + 50;
    t.price = 101;
    agg_windows_add(w, &t, NULL, BASE_MS + 50); /* within the interval: waits */
    assert_int_equal(agg_windows_latest_due(w, BASE_MS + 50, on_latest, NULL), 0);
    t.ts = BASE_MS + 120;
    t.price = 102;
    agg_windows_add(w, &t, NULL, BASE_MS + 120); /* due: reported after the batch */
    assert_int_equal(agg_windows_latest_due(w, BASE_MS + 120, on_latest, NULL), 1);
    assert_true(latest_seen[1].price == 102);
    /* The dirty entry left from BASE_MS + 50 is dropped without a second report. */
    assert_int_equal(agg_windows_latest(w, BASE_MS + 130, 0, on_latest, NULL), 0);
    assert_int_equal(agg_windows_latest(w, BASE_MS + 400, 0, on_latest, NULL), 0);
    t.ts = BASE_MS + 150;
    t.price = 103;
    agg_windows_add(w, &t, NULL, BASE_MS + 150);
    assert_int_equal(agg_windows_latest_due(w, BASE_MS + 150, on_latest, NULL), 0);
    assert_int_equal(agg_windows_latest(w, BASE_MS + 219, 0, on_latest, NULL), 0);
    assert_int_equal(agg_windows_latest(w, BASE_MS + 220, 0, on_latest, NULL), 1);
    assert_true(latest_seen[2].price == 103);
    assert_int_equal(nlatest, 3);
    agg_windows_flush(w, 0, 1, collect, NULL);
    free_parts();
    agg_windows_destroy(w);
}

/* Property: over seeded random arrivals, batches and passes, reports of a key are never closer
 * than the interval, each shows the newest tick at that moment, and after a forced pass the
 * newest tick has been reported. */
static int64_t rep_last_ms[4];
static double rep_last_price[4];
static int64_t rep_now;
static double rep_newest[4];
static void on_latest_check(const mf_tick *t, void *ctx) {
    int i = t->symbol[1] - '0';
    (void)ctx;
    assert_true(rep_last_ms[i] == INT64_MIN || rep_now - rep_last_ms[i] >= 100);
    assert_true(t->price == rep_newest[i]);
    rep_last_ms[i] = rep_now;
    rep_last_price[i] = t->price;
}

static void test_latest_interval_property(void **state) {
    agg_window_cfg cfg = test_cfg();
    agg_windows *w;
    mf_tick t;
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    (void)state;
    memset(&t, 0, sizeof(t));
    snprintf(t.exchange, sizeof(t.exchange), "exchange1");
    assert_int_equal(agg_windows_create(&w, &cfg), MF_OK);
    for (int i = 0; i < 4; i++) rep_last_ms[i] = INT64_MIN;
    rep_now = BASE_MS;
    for (int n = 0; n < 20000; n++) {
        int k;
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        k = (int)(rng % 4);
        rep_now += (int64_t)(rng >> 40) % 7; /* 0-6 ms between arrivals */
        snprintf(t.symbol, sizeof(t.symbol), "S%d", k);
        t.ts = rep_now;
        t.price = 1000 + n;
        rep_newest[k] = t.price;
        agg_windows_add(w, &t, NULL, rep_now);
        if (rng % 3 == 0) agg_windows_latest_due(w, rep_now, on_latest_check, NULL);
        if (rng % 17 == 0) agg_windows_latest(w, rep_now, 0, on_latest_check, NULL);
    }
    rep_now += 1000;
    agg_windows_latest(w, rep_now, 1, on_latest_check, NULL);
    for (int i = 0; i < 4; i++) assert_true(rep_last_price[i] == rep_newest[i]);
    agg_windows_flush(w, 0, 1, drop, NULL);
    dropped = 0;
    agg_windows_destroy(w);
}

/* Memory stays bounded: flushed buckets are gone, idle keys expire, the rest stay reachable. */
static void test_expiry_many_keys(void **state) {
    agg_window_cfg cfg = test_cfg();
    agg_windows *w;
    mf_tick t;
    (void)state;
    memset(&t, 0, sizeof(t));
    t.price = 2.0;
    assert_int_equal(agg_windows_create(&w, &cfg), MF_OK);
    for (int i = 0; i < 30000; i++) {
        snprintf(t.exchange, sizeof(t.exchange), "exchange%d", i % 3 + 1);
        snprintf(t.symbol, sizeof(t.symbol), "S%05d", i / 3);
        t.ts = BASE_MS + (i % 2) * 100000; /* odd keys are seen 100 s later */
        agg_windows_add(w, &t, NULL, t.ts);
    }
    assert_int_equal(agg_windows_keys(w), 30000);
    agg_windows_flush(w, BASE_MS + 200000, 0, drop, NULL);
    assert_int_equal(agg_windows_open(w), 0);
    assert_int_equal(dropped, 60000); /* 30000 seconds and 30000 minutes */
    agg_windows_latest(w, BASE_MS + 200000, 1, on_latest_count, NULL);
    /* Keys last seen at BASE_MS are idle for 600 s at BASE_MS + 600000; odd ones are not. */
    assert_int_equal(agg_windows_expire(w, BASE_MS + 600000), 15000);
    assert_int_equal(agg_windows_keys(w), 15000);
    for (int i = 1; i < 30000; i += 2) { /* survivors are found again, not re-created */
        snprintf(t.exchange, sizeof(t.exchange), "exchange%d", i % 3 + 1);
        snprintf(t.symbol, sizeof(t.symbol), "S%05d", i / 3);
        t.ts = BASE_MS + 600000;
        agg_windows_add(w, &t, NULL, t.ts);
    }
    assert_int_equal(agg_windows_keys(w), 15000);
    agg_windows_flush(w, 0, 1, drop, NULL);
    agg_windows_latest(w, 0, 1, on_latest_count, NULL);
    assert_int_equal(agg_windows_expire(w, BASE_MS + 2000000), 15000);
    assert_int_equal(agg_windows_keys(w), 0);
    agg_windows_destroy(w);
}

/* Sums that outgrow the inline parts spill to the heap, and keep exactly the parts an mf_xsum
 * fed the same values in the same order holds, in the 1 s partials and the merged minute. */
static void test_sums_spill_exactly(void **state) {
    static const double prices[] = {1e15, 1.0, 1e-15, 3e-31, 7e-47, 1e-60, 2.5, 1e15, 5e-70};
    agg_window_cfg cfg = test_cfg();
    agg_windows *w;
    mf_tick t;
    mf_xsum sec[2], min, vol;
    (void)state;
    memset(&t, 0, sizeof(t));
    snprintf(t.exchange, sizeof(t.exchange), "exchange1");
    snprintf(t.symbol, sizeof(t.symbol), "BTCUSDT");
    mf_xsum_init(&sec[0]);
    mf_xsum_init(&sec[1]);
    mf_xsum_init(&vol);
    assert_int_equal(agg_windows_create(&w, &cfg), MF_OK);
    for (int i = 0; i < 9; i++) {
        t.price = prices[i];
        t.has_qty = 1;
        t.qty = prices[8 - i];
        t.ts = BASE_MS + (i < 5 ? 100 : 1100) + i;
        agg_windows_add(w, &t, NULL, BASE_MS);
        mf_xsum_add(&sec[i < 5 ? 0 : 1], t.price);
        mf_xsum_add(&vol, t.qty);
    }
    agg_windows_flush(w, BASE_MS, 1, collect, NULL);
    assert_int_equal(nparts, 3);
    min = sec[0];
    mf_xsum_merge(&min, &sec[1]);
    for (int i = 0; i < 3; i++) {
        const mf_xsum *want =
            parts[i]->r.window == MF_WIN_1M ? &min : &sec[parts[i]->r.start == BASE_MS ? 0 : 1];
        assert_int_equal(parts[i]->r.st.sum.n, want->n);
        for (int k = 0; k < want->n; k++) assert_true(parts[i]->r.st.sum.p[k] == want->p[k]);
        if (parts[i]->r.window == MF_WIN_1M) {
            assert_true(want->n > MF_XSUM_SMALL_INLINE);
            assert_true(mf_xsum_equal(&parts[i]->r.st.volume, &vol));
            assert_int_equal(parts[i]->r.st.count, 9);
        }
    }
    free_parts();
    agg_windows_destroy(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_shuffled_late_instances),
        cmocka_unit_test(test_acks_follow_ticks),
        cmocka_unit_test(test_deadlines_and_corrections),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_latest_conflation),
        cmocka_unit_test(test_latest_leading_edge),
        cmocka_unit_test(test_latest_interval_property),
        cmocka_unit_test(test_expiry_many_keys),
        cmocka_unit_test(test_sums_spill_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
