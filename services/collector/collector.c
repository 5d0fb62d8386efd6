/* collector.c: the collector core: feeds, their reader threads and worker pools.
 *
 * DESIGN
 * Threads:
 *  - the caller of coll_set_mode / coll_stop (main's loop): opens and closes feed sets. It
 *    never touches a socket; closing a set means: raise the feeds' stop flags, join the
 *    readers, close the worker queues, join the workers (they drain what was queued).
 *  - one reader per feed ("rd-<exchange>"): opens the feed through the feed port (feed.h;
 *    the adapter of the endpoint's kind), retrying forever with backoff capped at 250 ms (a
 *    feed that returns is read again within ~0.3 s), takes the frames of each next() (for the
 *    line adapter: the complete lines of one read) and groups them into one batch per worker.
 *    The worker is chosen by the frame's shard key (a hash of its symbol), so a feed's
 *    per-symbol order is kept. A batch is pushed into that worker's bounded queue, waiting at
 *    most 200 ms; after that it is dropped and counted, because the reader must keep draining
 *    the socket (an exchange stalls its other clients when one stops reading).
 *  - workers_per_feed workers per feed ("wk-<exchange>"): own the batches they pop; decode
 *    each frame with the adapter's decode() (the line adapter's strict parser also checks
 *    the timestamp window: aggregator.max_lateness_s behind, aggregator.max_skew_s ahead),
 *    count rejects by reason, fill exchange (the endpoint's name) and recv_ts (when the
 *    reader read it), and hand the tick to the sink. Decoding runs here, not in the reader,
 *    so that it is spread over the pool: the reader only frames and hashes.
 *  - the heartbeat thread calls coll_status_fill.
 * Shared state: per-feed counters are atomics. The pointer to the open feed set is guarded
 * by c->mu, held only to swap or read it (never across a join). */
#include "collector.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/queue.h"
#include "mf/util.h"

#define READ_TIMEOUT_MS 100
#define CONNECT_TIMEOUT_MS 500
#define BACKOFF_BASE_MS 100
#define BACKOFF_CAP_MS 250
#define PUSH_TIMEOUT_MS 200
#define WORKER_QUEUE_CAP 256
#define POP_MANY 16

typedef struct coll_batch_line {
    uint32_t off, len;
} coll_batch_line;

/* The frames of one read that go to one worker: copied out of the adapter's buffer. */
typedef struct coll_batch {
    coll_batch_line *lines;
    size_t n, lines_cap;
    char *data;
    size_t used, data_cap;
    int64_t recv_ts;
} coll_batch;

typedef struct coll_feed coll_feed;

typedef struct coll_worker {
    coll_feed *f;
    mf_queue *q;
    pthread_t thread;
    int started;
    coll_batch *pending; /* reader-owned: the batch being filled for this worker */
} coll_worker;

struct coll_feed {
    collector *c;
    const coll_feed_ops *ops; /* the adapter of ep.kind */
    mf_endpoint ep;
    char endpoint[160];
    atomic_int stop;
    pthread_t reader;
    int reader_started;
    int nworkers;
    coll_worker *workers;
    int64_t recv_now; /* reader-only: when the current read returned */
    long long read_lines;
    /* Since this feed was opened (status). */
    atomic_int connected;
    atomic_llong lines, ticks, dropped, reconnects, last_tick_ts, last_recv_ts;
    atomic_llong rejected[MF_REJECT_COUNT];
    /* Cumulative per exchange name (Prometheus). */
    atomic_llong *m_lines, *m_ticks, *m_dropped, *m_reconnects, *m_connected;
    atomic_llong *m_rejected[MF_REJECT_COUNT];
};

typedef struct coll_feedset {
    mf_mode mode;
    int n;
    coll_feed *feeds;
} coll_feedset;

struct collector {
    const mf_config *cfg;
    const coll_feed_ops *ops;
    coll_sink sink;
    pthread_mutex_t mu;
    coll_feedset *fs; /* guarded by mu */
    int mode;         /* -1 until the first switch; written by the switching thread only */
    atomic_llong *m_switches;
};

/* ---- batches ------------------------------------------------------------------------------ */

static coll_batch *batch_new(int64_t recv_ts) {
    coll_batch *b = mf_xcalloc(1, sizeof(*b));
    b->lines_cap = 64;
    b->lines = mf_xmalloc(b->lines_cap * sizeof(*b->lines));
    b->data_cap = 8192;
    b->data = mf_xmalloc(b->data_cap);
    b->recv_ts = recv_ts;
    return b;
}

static void batch_free(coll_batch *b) {
    if (b == NULL) return;
    free(b->lines);
    free(b->data);
    free(b);
}

static void batch_add(coll_batch *b, const char *line, size_t len) {
    if (b->n == b->lines_cap) {
        b->lines_cap *= 2;
        b->lines = mf_xrealloc(b->lines, b->lines_cap * sizeof(*b->lines));
    }
    if (b->used + len > b->data_cap) {
        while (b->used + len > b->data_cap) b->data_cap *= 2;
        b->data = mf_xrealloc(b->data, b->data_cap);
    }
    memcpy(b->data + b->used, line, len);
    b->lines[b->n].off = (uint32_t)b->used;
    b->lines[b->n].len = (uint32_t)len;
    b->used += len;
    b->n++;
}

/* ---- workers ------------------------------------------------------------------------------ */

static void count_reject(coll_feed *f, mf_reject r, const char *line, size_t len) {
    atomic_fetch_add(&f->rejected[r], 1);
    atomic_fetch_add(f->m_rejected[r], 1);
    mf_log_ratelimited(MF_LOG_WARN, 5000, "line rejected exchange=%s reason=%s line=\"%.*s\"",
                       f->ep.name, mf_reject_str(r), (int)(len > 80 ? 80 : len), line);
}

/* What process_batch accumulated for the sink. */
typedef struct coll_out {
    mf_tick t[COLL_SINK_BATCH];
    size_t n;
    long long ticks, dropped;
    int64_t max_ts;
} coll_out;

/* Hands the accumulated ticks to the sink's publish_many. */
static void out_flush(coll_feed *f, coll_out *o) {
    size_t dropped;
    if (o->n == 0) return;
    dropped = f->c->sink.publish_many(f->c->sink.ctx, o->t, o->n);
    o->ticks += (long long)(o->n - dropped);
    o->dropped += (long long)dropped;
    if (dropped == 0)
        for (size_t i = 0; i < o->n; i++)
            if (o->t[i].ts > o->max_ts) o->max_ts = o->t[i].ts;
    o->n = 0;
}

static void out_add(coll_feed *f, coll_out *o, const mf_tick *t) {
    if (f->c->sink.publish_many != NULL) {
        o->t[o->n++] = *t;
        if (o->n == COLL_SINK_BATCH) out_flush(f, o);
        return;
    }
    if (f->c->sink.publish(f->c->sink.ctx, t) != MF_OK) {
        o->dropped++;
        return;
    }
    o->ticks++;
    if (t->ts > o->max_ts) o->max_ts = t->ts;
}

static void process_batch(coll_feed *f, const coll_batch *b) {
    const mf_config *cfg = f->c->cfg;
    int64_t now = mf_now_ms();
    int64_t past = (int64_t)cfg->aggregator.max_lateness_s * 1000;
    int64_t future = (int64_t)cfg->aggregator.max_skew_s * 1000;
    coll_decode_env env = {.now_ms = now, .max_past_ms = past, .max_future_ms = future};
    coll_out out, *o = &out;
    coll_msg m;
    o->n = 0;
    o->ticks = o->dropped = 0;
    o->max_ts = 0;
    memset(&m, 0, sizeof(m));
    memcpy(m.u.tick.exchange, f->ep.name, sizeof(m.u.tick.exchange)); /* decode leaves it */
    for (size_t i = 0; i < b->n; i++) {
        const char *line = b->data + b->lines[i].off;
        size_t len = b->lines[i].len;
        mf_reject r = f->ops->decode(line, len, &env, &m);
        if (r != MF_REJECT_NONE) {
            count_reject(f, r, line, len);
            continue;
        }
        if (m.kind != COLL_MSG_TICK) continue; /* depth and snapshots: the Binance issue */
        m.u.tick.recv_ts = b->recv_ts;
        out_add(f, o, &m.u.tick);
    }
    out_flush(f, o);
    if (o->ticks) {
        atomic_fetch_add(&f->ticks, o->ticks);
        atomic_fetch_add(f->m_ticks, o->ticks);
        if (o->max_ts > atomic_load(&f->last_tick_ts)) atomic_store(&f->last_tick_ts, o->max_ts);
        atomic_store(&f->last_recv_ts, b->recv_ts);
    }
    if (o->dropped) {
        atomic_fetch_add(&f->dropped, o->dropped);
        atomic_fetch_add(f->m_dropped, o->dropped);
    }
}

static void *worker_main(void *arg) {
    coll_worker *w = arg;
    void *items[POP_MANY];
    size_t n;
    char name[48]; /* mf_thread_name keeps 15 */
    snprintf(name, sizeof(name), "wk-%s", w->f->ep.name);
    mf_thread_name(name);
    while (mf_queue_pop_many(w->q, items, POP_MANY, &n, -1) == MF_OK) {
        for (size_t i = 0; i < n; i++) {
            process_batch(w->f, items[i]);
            batch_free(items[i]);
        }
    }
    return NULL;
}

/* ---- reader ------------------------------------------------------------------------------- */

/* Spreads the frames of one next() over the workers' pending batches. */
static void take_frames(coll_feed *f, const coll_frames *fr) {
    for (size_t i = 0; i < fr->n; i++) {
        const coll_frame *x = &fr->v[i];
        coll_worker *w = &f->workers[x->key % (unsigned)f->nworkers];
        if (w->pending == NULL) w->pending = batch_new(f->recv_now);
        batch_add(w->pending, x->data, x->len);
    }
    f->read_lines += (long long)(fr->n + fr->too_long);
    if (fr->too_long == 0) return;
    atomic_fetch_add(&f->rejected[MF_REJECT_TOO_LONG], (long long)fr->too_long);
    atomic_fetch_add(f->m_rejected[MF_REJECT_TOO_LONG], (long long)fr->too_long);
    for (size_t i = 0; i < fr->too_long; i++)
        mf_log_ratelimited(MF_LOG_WARN, 5000,
                           "line rejected exchange=%s reason=too_long max_line=%d", f->ep.name,
                           f->c->cfg->collector.max_line);
}

/* Hands each worker its batch of this read. Never waits more than PUSH_TIMEOUT_MS. */
static void flush_batches(coll_feed *f) {
    for (int i = 0; i < f->nworkers; i++) {
        coll_worker *w = &f->workers[i];
        coll_batch *b = w->pending;
        mf_status s;
        if (b == NULL) continue;
        w->pending = NULL;
        s = mf_queue_push(w->q, b, PUSH_TIMEOUT_MS);
        if (s == MF_OK) continue;
        atomic_fetch_add(&f->dropped, (long long)b->n);
        atomic_fetch_add(f->m_dropped, (long long)b->n);
        mf_log_ratelimited(MF_LOG_WARN, 5000, "workers behind: lines dropped exchange=%s n=%zu",
                           f->ep.name, b->n);
        batch_free(b);
    }
    if (f->read_lines) {
        atomic_fetch_add(&f->lines, f->read_lines);
        atomic_fetch_add(f->m_lines, f->read_lines);
        f->read_lines = 0;
    }
}

/* Sleeps ms in short slices; returns 1 when the feed is being closed. */
static int feed_sleep(coll_feed *f, int64_t ms) {
    int64_t end = mf_mono_ms() + ms;
    while (!atomic_load(&f->stop)) {
        int64_t left = end - mf_mono_ms();
        if (left <= 0) return 0;
        mf_sleep_ms(left < 50 ? left : 50);
    }
    return 1;
}

static void set_connected(coll_feed *f, int up) {
    atomic_store(&f->connected, up);
    atomic_store(f->m_connected, up);
}

/* Opens the feed, retrying until connected or closed. Returns NULL when closed. */
static coll_feed_conn *feed_connect(coll_feed *f, int *ever) {
    coll_feed_opts opts = {.max_line = (size_t)f->c->cfg->collector.max_line};
    coll_feed_conn *conn = NULL;
    for (int attempt = 0; !atomic_load(&f->stop); attempt++) {
        mf_status s = f->ops->open(&conn, &f->ep, &opts, CONNECT_TIMEOUT_MS);
        if (s == MF_OK) {
            if (*ever) {
                atomic_fetch_add(&f->reconnects, 1);
                atomic_fetch_add(f->m_reconnects, 1);
            }
            *ever = 1;
            set_connected(f, 1);
            mf_log(MF_LOG_INFO, "feed connected exchange=%s endpoint=%s kind=%s url=%s attempts=%d",
                   f->ep.name, f->endpoint, f->ops->kind, f->ep.url, attempt + 1);
            return conn;
        }
        if (attempt == 0)
            mf_log(MF_LOG_WARN, "feed not reachable exchange=%s endpoint=%s: %s; retrying",
                   f->ep.name, f->endpoint, mf_status_str(s));
        if (feed_sleep(f, mf_backoff_ms(attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS))) break;
    }
    return NULL;
}

static void *reader_main(void *arg) {
    coll_feed *f = arg;
    coll_feed_conn *conn = NULL;
    int ever = 0;
    char name[48]; /* mf_thread_name keeps 15 */
    snprintf(name, sizeof(name), "rd-%s", f->ep.name);
    mf_thread_name(name);
    while (!atomic_load(&f->stop)) {
        coll_frames fr;
        mf_status s;
        if (conn == NULL) {
            conn = feed_connect(f, &ever); /* a new connection starts with no partial frame */
            continue;
        }
        s = conn->ops->next(conn, &fr, READ_TIMEOUT_MS);
        if (s == MF_ERR_TIMEOUT) continue;
        if (s != MF_OK) {
            mf_log(MF_LOG_WARN, "feed disconnected exchange=%s endpoint=%s: %s; reconnecting",
                   f->ep.name, f->endpoint, s == MF_ERR_CLOSED ? "closed by peer" : "I/O error");
            coll_feed_close(conn);
            conn = NULL;
            set_connected(f, 0);
            continue;
        }
        f->recv_now = mf_now_ms();
        take_frames(f, &fr);
        flush_batches(f);
    }
    if (conn != NULL) {
        coll_feed_close(conn);
        mf_log(MF_LOG_INFO, "feed closed exchange=%s endpoint=%s", f->ep.name, f->endpoint);
    }
    set_connected(f, 0);
    return NULL;
}

/* ---- feeds and feed sets ------------------------------------------------------------------ */

static void feed_metrics(coll_feed *f) {
    char labels[128], rl[192];
    snprintf(labels, sizeof(labels), "exchange=\"%s\"", f->ep.name);
    f->m_lines = mf_counter("collector_lines_total", labels, "feed lines read");
    f->m_ticks = mf_counter("collector_ticks_total", labels, "ticks accepted and published");
    f->m_dropped = mf_counter("collector_dropped_total", labels,
                              "lines or ticks dropped (workers behind or publish buffer full)");
    f->m_reconnects = mf_counter("collector_reconnects_total", labels, "feed reconnections");
    f->m_connected = mf_gauge("collector_feed_connected", labels, "1 while the feed is connected");
    for (int r = 1; r < MF_REJECT_COUNT; r++) {
        snprintf(rl, sizeof(rl), "%s,reason=\"%s\"", labels, mf_reject_str((mf_reject)r));
        f->m_rejected[r] = mf_counter("collector_rejected_total", rl, "feed lines rejected");
    }
    f->m_rejected[0] = f->m_rejected[1];
}

static void feed_start(collector *c, coll_feed *f, const mf_endpoint *ep) {
    f->c = c;
    f->ep = *ep;
    f->ops = c->ops != NULL ? c->ops : coll_feed_ops_for(ep->kind);
    MF_ASSERT(f->ops != NULL); /* mf_endpoints_parse accepts only kinds that are built */
    snprintf(f->endpoint, sizeof(f->endpoint), "%s:%d", ep->host, ep->port);
    feed_metrics(f);
    f->nworkers = c->cfg->collector.workers_per_feed;
    f->workers = mf_xcalloc((size_t)f->nworkers, sizeof(*f->workers));
    for (int i = 0; i < f->nworkers; i++) {
        coll_worker *w = &f->workers[i];
        w->f = f;
        MF_ASSERT(mf_queue_create(&w->q, WORKER_QUEUE_CAP) == MF_OK);
        w->started = pthread_create(&w->thread, NULL, worker_main, w) == 0;
        MF_ASSERT(w->started);
    }
    f->reader_started = pthread_create(&f->reader, NULL, reader_main, f) == 0;
    MF_ASSERT(f->reader_started);
}

static coll_feedset *feedset_open(collector *c, mf_mode mode) {
    mf_endpoint eps[MF_MAX_FEEDS];
    char err[256];
    int n = 0;
    const char *list = mode == MF_MODE_LIVE ? c->cfg->exchanges.live : c->cfg->exchanges.test;
    coll_feedset *fs = mf_xcalloc(1, sizeof(*fs));
    fs->mode = mode;
    if (mf_endpoints_parse(list, eps, MF_MAX_FEEDS, &n, err, sizeof(err)) != MF_OK) {
        mf_log(MF_LOG_ERROR, "exchanges.%s: %s; no feeds open", mf_mode_str(mode), err);
        n = 0;
    }
    fs->n = n;
    fs->feeds = mf_xcalloc((size_t)(n > 0 ? n : 1), sizeof(*fs->feeds));
    for (int i = 0; i < n; i++) feed_start(c, &fs->feeds[i], &eps[i]);
    return fs;
}

static void feedset_close(coll_feedset *fs) {
    if (fs == NULL) return;
    for (int i = 0; i < fs->n; i++) atomic_store(&fs->feeds[i].stop, 1);
    for (int i = 0; i < fs->n; i++)
        if (fs->feeds[i].reader_started) pthread_join(fs->feeds[i].reader, NULL);
    for (int i = 0; i < fs->n; i++) {
        coll_feed *f = &fs->feeds[i];
        for (int k = 0; k < f->nworkers; k++) mf_queue_close(f->workers[k].q);
        for (int k = 0; k < f->nworkers; k++) {
            coll_worker *w = &f->workers[k];
            if (w->started) pthread_join(w->thread, NULL);
            batch_free(w->pending);
            mf_queue_destroy(w->q);
        }
        free(f->workers);
    }
    free(fs->feeds);
    free(fs);
}

/* ---- collector ---------------------------------------------------------------------------- */

mf_status
coll_create(collector **out, const mf_config *cfg, const coll_feed_ops *ops, coll_sink sink) {
    collector *c;
    if (out == NULL || cfg == NULL || sink.publish == NULL) return MF_ERR_INVALID_ARG;
    c = mf_xcalloc(1, sizeof(*c));
    c->cfg = cfg;
    c->ops = ops;
    c->sink = sink;
    c->mode = -1;
    pthread_mutex_init(&c->mu, NULL);
    c->m_switches = mf_counter("collector_mode_switches_total", "", "feed set switches");
    *out = c;
    return MF_OK;
}

mf_status coll_set_mode(collector *c, mf_mode mode) {
    coll_feedset *old, *fs;
    if (c->mode == (int)mode) return MF_OK;
    pthread_mutex_lock(&c->mu);
    old = c->fs;
    c->fs = NULL;
    pthread_mutex_unlock(&c->mu);
    if (old != NULL) mf_log(MF_LOG_INFO, "mode switch: closing %s feeds", mf_mode_str(old->mode));
    feedset_close(old);
    fs = feedset_open(c, mode);
    if (c->mode >= 0) atomic_fetch_add(c->m_switches, 1);
    pthread_mutex_lock(&c->mu);
    c->fs = fs;
    c->mode = (int)mode;
    pthread_mutex_unlock(&c->mu);
    mf_log(MF_LOG_INFO, "mode %s: %d feeds open (%s)", mf_mode_str(mode), fs->n,
           mode == MF_MODE_LIVE ? c->cfg->exchanges.live : c->cfg->exchanges.test);
    return MF_OK;
}

int coll_mode(collector *c) {
    return c->mode;
}

void coll_stop(collector *c) {
    coll_feedset *old;
    if (c == NULL) return;
    pthread_mutex_lock(&c->mu);
    old = c->fs;
    c->fs = NULL;
    pthread_mutex_unlock(&c->mu);
    feedset_close(old);
}

void coll_destroy(collector *c) {
    if (c == NULL) return;
    coll_stop(c);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static json_t *feed_status(coll_feed *f) {
    json_t *o = json_object(), *rej = json_object();
    json_object_set_new(o, "name", json_string(f->ep.name));
    json_object_set_new(o, "endpoint", json_string(f->endpoint));
    json_object_set_new(o, "connected", json_boolean(atomic_load(&f->connected)));
    json_object_set_new(o, "lines", json_integer(atomic_load(&f->lines)));
    json_object_set_new(o, "ticks", json_integer(atomic_load(&f->ticks)));
    for (int r = 1; r < MF_REJECT_COUNT; r++)
        json_object_set_new(rej, mf_reject_str((mf_reject)r),
                            json_integer(atomic_load(&f->rejected[r])));
    json_object_set_new(o, "rejected", rej);
    json_object_set_new(o, "last_tick_ts", json_integer(atomic_load(&f->last_tick_ts)));
    json_object_set_new(o, "last_recv_ts", json_integer(atomic_load(&f->last_recv_ts)));
    json_object_set_new(o, "reconnects", json_integer(atomic_load(&f->reconnects)));
    json_object_set_new(o, "dropped", json_integer(atomic_load(&f->dropped)));
    return o;
}

void coll_status_fill(json_t *status, collector *c) {
    json_t *feeds = json_array();
    pthread_mutex_lock(&c->mu);
    if (c->fs != NULL) {
        json_object_set_new(status, "mode", json_string(mf_mode_str(c->fs->mode)));
        for (int i = 0; i < c->fs->n; i++)
            json_array_append_new(feeds, feed_status(&c->fs->feeds[i]));
    } else {
        json_object_set_new(status, "mode",
                            c->mode >= 0 ? json_string(mf_mode_str((mf_mode)c->mode))
                                         : json_null());
    }
    pthread_mutex_unlock(&c->mu);
    json_object_set_new(status, "feeds", feeds);
}

void coll_totals_get(collector *c, coll_totals *t) {
    memset(t, 0, sizeof(*t));
    pthread_mutex_lock(&c->mu);
    for (int i = 0; c->fs != NULL && i < c->fs->n; i++) {
        coll_feed *f = &c->fs->feeds[i];
        t->feeds++;
        t->connected += atomic_load(&f->connected);
        t->lines += atomic_load(&f->lines);
        t->ticks += atomic_load(&f->ticks);
        t->dropped += atomic_load(&f->dropped);
        for (int r = 0; r < MF_REJECT_COUNT; r++) t->rejected[r] += atomic_load(&f->rejected[r]);
    }
    pthread_mutex_unlock(&c->mu);
}
