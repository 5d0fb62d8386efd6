/* window.c: per-worker window state: a key table, open buckets grouped by flush deadline,
 * the newest tick per key. See window.h for the rules.
 *
 * Layout: keys live in an open-addressing table (linear probing, backward-shift deletion) keyed
 * by exchange and symbol. Each key lists its open buckets (normally one or two 1 s buckets and
 * one 1 min bucket, so a linear walk is cheapest). Buckets of the same (window, start) share a
 * slot, and slots are what flushing scans: there are only a handful open at once.
 *
 * Buckets are compact (mf_stats_small, agg_acks): the 1.1 KB mf_rollup (three 40-part sums) is
 * built only when a partial is serialised, so 30,000 keys with their 1 s and 1 min buckets open
 * take a few MB. A 1 s bucket is merged into its 1 min bucket as compact statistics
 * (mf_stats_small_merge: the rules of stats.h, the same sum parts as the full form). */
#include "window.h"

#include <stdlib.h>
#include <string.h>

#include "mf/util.h"

typedef struct agg_key agg_key;

typedef struct agg_bucket {
    agg_key *key;
    struct agg_bucket *key_next;  /* the key's open buckets */
    struct agg_bucket *slot_next; /* the buckets of one slot */
    int64_t start;
    mf_window win;
    int correction;
    agg_acks acks;
    mf_stats_small st;
} agg_bucket;

/* latest.exchange and latest.symbol are the key (set at creation, kept by every update). */
struct agg_key {
    uint64_t hash;
    agg_bucket *buckets;
    size_t nbuckets;
    mf_tick latest;
    int has_latest;
    int changed;  /* latest changed since it was last reported */
    int in_dirty; /* in the dirty list: changed, not yet due (or due since) */
    int in_due;   /* in the due list: changed while due, reported after the batch */
    agg_key *dirty_next;
    agg_key *due_next;
    int64_t last_pub_ms;
    int64_t last_seen_ms;
};

typedef struct agg_slot {
    mf_window win;
    int64_t start;
    int64_t deadline;
    agg_bucket *head;
} agg_slot;

struct agg_windows {
    agg_window_cfg cfg;
    agg_key **table; /* open addressing; NULL = empty */
    size_t cap, nkeys;
    agg_slot *slots;
    size_t nslots, slots_cap, last_slot;
    agg_key *dirty, *due;
    size_t open;
    size_t pending_ticks;
    agg_ackheads *heads;
};

#define NEVER (INT64_MIN / 4)

/* ---- partials -------------------------------------------------------------------------- */

void agg_partial_free(agg_partial *p) {
    if (p == NULL) return;
    mf_stats_small_cleanup(&p->st);
    agg_acks_free(&p->acks);
    free(p);
}

void agg_partial_rollup(const agg_partial *p, mf_rollup *r) {
    mf_rollup_init(r, p->exchange, p->symbol, p->window, p->start);
    mf_stats_small_get(&p->st, &r->st);
}

const char *agg_partial_ack_next(const agg_partial *p, size_t *pos, char *buf) {
    return agg_acks_next(&p->acks, p->heads, pos, buf);
}

static void bucket_free(agg_bucket *b) {
    mf_stats_small_cleanup(&b->st);
    agg_acks_free(&b->acks);
    free(b);
}

mf_status agg_windows_create(agg_windows **out, const agg_window_cfg *cfg) {
    agg_windows *w;
    if (out == NULL || cfg == NULL) return MF_ERR_INVALID_ARG;
    w = mf_xcalloc(1, sizeof(*w));
    w->cfg = *cfg;
    w->cap = 64;
    w->table = mf_xcalloc(w->cap, sizeof(agg_key *));
    w->heads = agg_ackheads_create();
    *out = w;
    return MF_OK;
}

void agg_windows_destroy(agg_windows *w) {
    if (w == NULL) return;
    for (size_t i = 0; i < w->nslots; i++) {
        agg_bucket *b = w->slots[i].head;
        while (b) {
            agg_bucket *next = b->slot_next;
            bucket_free(b);
            b = next;
        }
    }
    for (size_t i = 0; i < w->cap; i++) free(w->table[i]);
    free(w->table);
    free(w->slots);
    agg_ackheads_destroy(w->heads);
    free(w);
}

/* ---- key table ------------------------------------------------------------------------- */

static uint64_t key_hash(const char *exchange, const char *symbol) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)exchange; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL; /* separator: no valid name byte */
    for (const unsigned char *p = (const unsigned char *)symbol; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static void table_grow(agg_windows *w) {
    size_t ncap = w->cap * 2;
    agg_key **nt = mf_xcalloc(ncap, sizeof(agg_key *));
    for (size_t i = 0; i < w->cap; i++) {
        agg_key *k = w->table[i];
        if (k == NULL) continue;
        size_t j = k->hash & (ncap - 1);
        while (nt[j]) j = (j + 1) & (ncap - 1);
        nt[j] = k;
    }
    free(w->table);
    w->table = nt;
    w->cap = ncap;
}

static int key_is(const agg_key *k, uint64_t h, const mf_tick *t) {
    return k->hash == h && strcmp(k->latest.symbol, t->symbol) == 0 &&
           strcmp(k->latest.exchange, t->exchange) == 0;
}

static agg_key *key_get(agg_windows *w, const mf_tick *t, int64_t now_ms) {
    uint64_t h = key_hash(t->exchange, t->symbol);
    size_t i = h & (w->cap - 1);
    agg_key *k;
    for (; (k = w->table[i]) != NULL; i = (i + 1) & (w->cap - 1)) {
        if (key_is(k, h, t)) return k;
    }
    k = mf_xcalloc(1, sizeof(*k));
    memcpy(k->latest.exchange, t->exchange, sizeof(k->latest.exchange));
    memcpy(k->latest.symbol, t->symbol, sizeof(k->latest.symbol));
    k->hash = h;
    k->last_pub_ms = NEVER;
    k->last_seen_ms = now_ms;
    w->table[i] = k;
    if (++w->nkeys * 2 > w->cap) table_grow(w);
    return k;
}

/* Removes k from the table (backward-shift deletion keeps probe chains intact) and frees it. */
static void key_delete(agg_windows *w, agg_key *k) {
    size_t mask = w->cap - 1, i = k->hash & mask;
    while (w->table[i] != k) i = (i + 1) & mask;
    for (size_t j = (i + 1) & mask; w->table[j] != NULL; j = (j + 1) & mask) {
        size_t home = w->table[j]->hash & mask;
        /* Move j back into the hole i when its home does not lie in (i, j]. */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            w->table[i] = w->table[j];
            i = j;
        }
    }
    w->table[i] = NULL;
    w->nkeys--;
    free(k);
}

/* ---- slots and buckets ----------------------------------------------------------------- */

static agg_slot *slot_get(agg_windows *w, mf_window win, int64_t start) {
    agg_slot *s;
    if (w->last_slot < w->nslots) {
        s = &w->slots[w->last_slot];
        if (s->win == win && s->start == start) return s;
    }
    for (size_t i = w->nslots; i-- > 0;) {
        s = &w->slots[i];
        if (s->win == win && s->start == start) {
            w->last_slot = i;
            return s;
        }
    }
    if (w->nslots == w->slots_cap) {
        w->slots_cap = w->slots_cap ? w->slots_cap * 2 : 16;
        w->slots = mf_xrealloc(w->slots, w->slots_cap * sizeof(agg_slot));
    }
    s = &w->slots[w->nslots];
    s->win = win;
    s->start = start;
    s->deadline = start + mf_window_ms(win) + w->cfg.grace_ms[win];
    s->head = NULL;
    w->last_slot = w->nslots++;
    return s;
}

static agg_bucket *bucket_find(agg_key *k, mf_window win, int64_t start) {
    for (agg_bucket *b = k->buckets; b; b = b->key_next)
        if (b->start == start && b->win == win) return b;
    return NULL;
}

/* Opens a bucket. It is a correction when its deadline has passed already. */
static agg_bucket *
bucket_open(agg_windows *w, agg_key *k, mf_window win, int64_t start, int64_t now_ms) {
    agg_slot *s = slot_get(w, win, start);
    agg_bucket *b = mf_xcalloc(1, sizeof(*b));
    b->start = start;
    b->win = win;
    mf_stats_small_init(&b->st);
    b->correction = now_ms >= s->deadline;
    b->key = k;
    b->key_next = k->buckets;
    k->buckets = b;
    k->nbuckets++;
    b->slot_next = s->head;
    s->head = b;
    w->open++;
    return b;
}

static void bucket_unlink(agg_windows *w, agg_bucket *b) {
    agg_bucket **pp = &b->key->buckets;
    while (*pp != b) pp = &(*pp)->key_next;
    *pp = b->key_next;
    b->key->nbuckets--;
    b->key_next = b->slot_next = NULL;
    w->open--;
}

/* ---- public operations ----------------------------------------------------------------- */

/* A key whose last report is latest_interval_ms old or more goes to the due list (reported as
 * soon as the caller's batch ends: the leading edge); otherwise to the dirty list, which the
 * periodic pass reports once the interval is over. A key can be in both: the report through
 * one clears `changed`, and the other then drops it without a second report. */
static void latest_update(agg_windows *w, agg_key *k, const mf_tick *t, int64_t now_ms) {
    if (k->has_latest && mf_tick_order(t->ts, t->has_id ? t->id : -1, t->price, k->latest.ts,
                                       k->latest.has_id ? k->latest.id : -1, k->latest.price) <= 0)
        return;
    k->latest = *t;
    k->has_latest = 1;
    k->changed = 1;
    if (now_ms - k->last_pub_ms >= w->cfg.latest_interval_ms) {
        if (!k->in_due) {
            k->in_due = 1;
            k->due_next = w->due;
            w->due = k;
        }
    } else if (!k->in_dirty) {
        k->in_dirty = 1;
        k->dirty_next = w->dirty;
        w->dirty = k;
    }
}

agg_add_result agg_windows_add(agg_windows *w, const mf_tick *t, const char *ack, int64_t now_ms) {
    int64_t start;
    agg_key *k;
    agg_bucket *b;
    if (t->ts < now_ms - w->cfg.max_lateness_ms) return AGG_ADD_REJECT_OLD;
    if (t->ts > now_ms + w->cfg.max_skew_ms) return AGG_ADD_REJECT_AHEAD;
    k = key_get(w, t, now_ms);
    k->last_seen_ms = now_ms;
    start = mf_window_start(t->ts, MF_WIN_1S);
    b = bucket_find(k, MF_WIN_1S, start);
    if (b == NULL) b = bucket_open(w, k, MF_WIN_1S, start, now_ms);
    mf_stats_small_add(&b->st, t);
    if (ack != NULL && ack[0] != '\0') {
        agg_acks_add(&b->acks, w->heads, ack);
        w->pending_ticks++;
    }
    latest_update(w, k, t, now_ms);
    return b->correction ? AGG_ADD_CORRECTION : AGG_ADD_OK;
}

int agg_windows_attach_ack(agg_windows *w, const mf_tick *t, const char *ack) {
    uint64_t h = key_hash(t->exchange, t->symbol);
    agg_bucket *b = NULL;
    for (size_t i = h & (w->cap - 1); w->table[i] != NULL; i = (i + 1) & (w->cap - 1)) {
        agg_key *k = w->table[i];
        if (key_is(k, h, t)) {
            b = bucket_find(k, MF_WIN_1S, mf_window_start(t->ts, MF_WIN_1S));
            break;
        }
    }
    if (b == NULL) return 0;
    agg_acks_add(&b->acks, w->heads, ack);
    w->pending_ticks++;
    return 1;
}

/* A flushed 1 s bucket goes into its key's 1 min bucket (opened, as a correction if due). */
static void merge_into_minute(agg_windows *w, const agg_bucket *b, int64_t now_ms) {
    int64_t mstart = mf_window_start(b->start, MF_WIN_1M);
    agg_bucket *m = bucket_find(b->key, MF_WIN_1M, mstart);
    if (m == NULL) m = bucket_open(w, b->key, MF_WIN_1M, mstart, now_ms);
    mf_stats_small_merge(&m->st, &b->st);
}

/* Turns an unlinked bucket into its partial (stats and acks move) and frees the bucket. */
static agg_partial *bucket_to_partial(agg_windows *w, agg_bucket *b) {
    agg_partial *p = mf_xmalloc(sizeof(*p));
    memcpy(p->exchange, b->key->latest.exchange, sizeof(p->exchange));
    memcpy(p->symbol, b->key->latest.symbol, sizeof(p->symbol));
    p->window = b->win;
    p->correction = b->correction;
    p->start = b->start;
    p->st = b->st;
    p->acks = b->acks;
    p->heads = w->heads;
    free(b);
    return p;
}

static size_t flush_slot(agg_windows *w, agg_slot s, int64_t now_ms, agg_emit_fn emit, void *ctx) {
    size_t n = 0;
    agg_bucket *b = s.head;
    while (b) {
        agg_bucket *next = b->slot_next;
        agg_partial *p;
        if (s.win == MF_WIN_1S) merge_into_minute(w, b, now_ms);
        bucket_unlink(w, b);
        w->pending_ticks -= b->acks.n;
        p = bucket_to_partial(w, b);
        emit(p, ctx);
        n++;
        b = next;
    }
    return n;
}

static size_t
flush_window(agg_windows *w, mf_window win, int64_t now_ms, int force, agg_emit_fn emit, void *ctx) {
    size_t n = 0;
    for (size_t i = 0; i < w->nslots;) {
        agg_slot s = w->slots[i];
        if (s.win != win || (!force && now_ms < s.deadline)) {
            i++;
            continue;
        }
        w->slots[i] = w->slots[--w->nslots]; /* taken out before its buckets move on */
        n += flush_slot(w, s, now_ms, emit, ctx);
    }
    w->last_slot = 0;
    return n;
}

size_t agg_windows_flush(agg_windows *w, int64_t now_ms, int force, agg_emit_fn emit, void *ctx) {
    size_t n = flush_window(w, MF_WIN_1S, now_ms, force, emit, ctx);
    return n + flush_window(w, MF_WIN_1M, now_ms, force, emit, ctx);
}

static void latest_report(agg_key *k, int64_t now_ms, agg_latest_fn fn, void *ctx) {
    fn(&k->latest, ctx);
    k->last_pub_ms = now_ms;
    k->changed = 0;
}

size_t agg_windows_latest_due(agg_windows *w, int64_t now_ms, agg_latest_fn fn, void *ctx) {
    size_t n = 0;
    while (w->due) {
        agg_key *k = w->due;
        w->due = k->due_next;
        k->due_next = NULL;
        k->in_due = 0;
        if (k->changed) {
            latest_report(k, now_ms, fn, ctx);
            n++;
        }
    }
    return n;
}

size_t agg_windows_latest(agg_windows *w, int64_t now_ms, int force, agg_latest_fn fn, void *ctx) {
    size_t n = agg_windows_latest_due(w, now_ms, fn, ctx);
    agg_key **pp = &w->dirty;
    while (*pp) {
        agg_key *k = *pp;
        int due = force || now_ms - k->last_pub_ms >= w->cfg.latest_interval_ms;
        if (!k->changed || due) {
            if (k->changed) {
                latest_report(k, now_ms, fn, ctx);
                n++;
            }
            k->in_dirty = 0;
            *pp = k->dirty_next;
            k->dirty_next = NULL;
        } else {
            pp = &k->dirty_next;
        }
    }
    return n;
}

size_t agg_windows_expire(agg_windows *w, int64_t now_ms) {
    size_t n = 0, i = 0;
    /* Deleting shifts entries backwards, so re-examine slot i after a deletion. */
    while (i < w->cap) {
        agg_key *k = w->table[i];
        if (k && k->nbuckets == 0 && !k->in_dirty && !k->in_due &&
            now_ms - k->last_seen_ms >= w->cfg.idle_expiry_ms) {
            key_delete(w, k);
            n++;
            continue;
        }
        i++;
    }
    return n;
}

size_t agg_windows_keys(const agg_windows *w) {
    return w->nkeys;
}

size_t agg_windows_open(const agg_windows *w) {
    return w->open;
}

size_t agg_windows_pending_ticks(const agg_windows *w) {
    return w->pending_ticks;
}
