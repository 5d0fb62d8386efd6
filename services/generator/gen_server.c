/* gen_server.c: feed threads, client sockets, pacing, fault timers and the line log.
 *
 * DESIGN
 * Threads: one per feed ("gen-<exchange>"), started by gen_server_start and joined by
 * gen_server_stop. Main only polls gen_server_done and reads atomic counters.
 * Ownership: a feed thread owns everything of its feed: its fan-out (mf_bcast: the listener,
 * the epoll set, the clients and their output buffers), the gen_stream (walk + faults), the
 * pacing state and a private log buffer. The only shared things are the stop flag (atomic),
 * the metrics (atomic) and the log file descriptor, written under log_mu by whole buffers of
 * whole lines, so lines of different feeds never interleave within a line.
 * Loop of a feed thread: mf_bcast_poll (timeout = time to the next due line, at most 50 ms:
 * accept / read-and-discard / flush clients / drop stalled ones) -> fault timers -> generate
 * the lines due now into one batch -> broadcast the batch (mf_bcast_send_all: write directly
 * when a client has nothing pending, else append to its bounded buffer; overflow drops the
 * client) -> log the batch if it reached a client -> flush the log every 200 ms.
 * Slow clients: a client whose buffer would overflow is dropped. When every client is more
 * than half full, the feed waits instead (backpressure: a benchmark reader that cannot keep
 * up with "as fast as possible" is slowed, not dropped); a client that takes no byte for 5 s
 * while output is pending is dropped.
 * Pacing: rate 0 sends one line per symbol every interval_ms; rate R > 0 sends R lines/s
 * in batches of whatever is due (token bucket from the time generation (re)started; a
 * backlog above 100 ms is skipped, not burst). No client, a pause or a reached count stop
 * generation; it restarts from "now" (no catch-up burst). */
#include "gen_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gen_stream.h"
#include "mf/bcast.h"
#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/util.h"

#define BATCH_LINES_MAX 8192       /* lines generated per loop iteration at most */
#define BATCH_BYTES (1u << 20)     /* batch buffer; a step needs GEN_STEP_MAX free */
#define LOG_FLUSH_BYTES (1u << 20) /* flush a feed's log buffer above this */
#define LOG_FLUSH_MS 200           /* ... or this often */
#define STOP_FLUSH_MS 1000         /* pending output flushed at stop for this long */
#define MAX_BACKLOG_MS 100         /* rate mode: older backlog is skipped */
#define STALL_DROP_MS 5000         /* a client taking no byte for this long is dropped */

typedef struct gen_feed {
    struct gen_server *srv;
    int index;
    mf_endpoint ep;
    char label[64]; /* "exchange=<name>": the fan-out's log context */
    mf_bcast *bc;
    pthread_t thread;
    int started;
    gen_stream stream;
    gen_stream_stats reported; /* stream stats already added to the metrics */
    char *batch;
    size_t batch_len;
    int batch_lines;
    char *logbuf;
    size_t loglen, logcap;
    int64_t log_flushed_ms;
    int64_t lines_sent;
    int finished; /* count reached: no more generation */
    atomic_int done;
    int generating;        /* pacing state valid (a client was connected) */
    int64_t pace_start_ns; /* rate mode */
    int64_t pace_lines;
    int64_t next_round_ms; /* interval mode (monotonic) */
    int64_t t0_ms;         /* fault timers count from here (monotonic) */
    int64_t next_disconnect_ms, next_pause_ms, pause_until_ms;
    atomic_llong *m_lines, *m_bytes, *m_clients, *m_accepted, *m_dropped, *m_closed;
    atomic_llong *m_malformed, *m_duplicate, *m_reorder, *m_disconnects, *m_pauses;
} gen_feed;

struct gen_server {
    mf_config cfg;
    gen_options opt;
    gen_faults faults;
    gen_feed feeds[MF_MAX_FEEDS];
    int nfeeds;
    atomic_int stop;
    int stopped;
    int log_fd;
    pthread_mutex_t log_mu;
};

/* ---- setup ------------------------------------------------------------------------------ */

static int listen_on(const mf_endpoint *ep, char *err, size_t errlen) {
    struct addrinfo hints, *res = NULL;
    char port[16];
    int fd = -1, one = 1, rc;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%d", ep->port);
    rc = getaddrinfo(ep->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot resolve %s: %s", ep->name, ep->host, gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        snprintf(err, errlen, "%s: cannot listen on %s:%d: %s", ep->name, ep->host, ep->port,
                 strerror(errno));
        if (fd >= 0) close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static atomic_llong *
feed_counter(const gen_feed *f, const char *name, const char *kind, const char *help) {
    char labels[128];
    if (kind)
        snprintf(labels, sizeof(labels), "exchange=\"%s\",kind=\"%s\"", f->ep.name, kind);
    else
        snprintf(labels, sizeof(labels), "exchange=\"%s\"", f->ep.name);
    return mf_counter(name, labels, help);
}

static void feed_metrics(gen_feed *f) {
    char labels[64];
    snprintf(labels, sizeof(labels), "exchange=\"%s\"", f->ep.name);
    f->m_lines = feed_counter(f, "generator_lines_total", NULL, "lines sent (to >= 1 client)");
    f->m_bytes = feed_counter(f, "generator_bytes_total", NULL, "bytes of lines sent");
    f->m_clients = mf_gauge("generator_clients", labels, "clients connected");
    f->m_accepted = feed_counter(f, "generator_clients_accepted_total", NULL, "connections");
    f->m_dropped = feed_counter(f, "generator_clients_dropped_total", NULL,
                                "clients dropped because they stopped reading");
    f->m_closed = feed_counter(f, "generator_clients_closed_total", NULL,
                               "clients closed for another reason than slowness");
    f->m_malformed = feed_counter(f, "generator_faults_total", "malformed", "injected faults");
    f->m_duplicate = feed_counter(f, "generator_faults_total", "duplicate", "injected faults");
    f->m_reorder = feed_counter(f, "generator_faults_total", "reorder", "injected faults");
    f->m_disconnects = feed_counter(f, "generator_faults_total", "disconnect", "injected faults");
    f->m_pauses = feed_counter(f, "generator_faults_total", "pause", "injected faults");
}

/* ---- the fan-out's callbacks: metrics ------------------------------------------------------ */

static int on_accept(void *ctx, const char *addr) {
    gen_feed *f = ctx;
    (void)addr;
    if (f->finished) return -1; /* --count reached: the feed is over, say so with EOF */
    atomic_fetch_add(f->m_clients, 1);
    atomic_fetch_add(f->m_accepted, 1);
    return 0;
}

static void on_close(void *ctx, mf_bcast_client *c, const char *why) {
    gen_feed *f = ctx;
    (void)c;
    atomic_fetch_sub(f->m_clients, 1);
    atomic_fetch_add(strcmp(why, "slow") == 0 ? f->m_dropped : f->m_closed, 1);
}

static mf_status
feed_init(gen_server *srv, gen_feed *f, int index, const mf_endpoint *ep, char *err, size_t errlen) {
    const mf_config *cfg = &srv->cfg;
    mf_bcast_opts bo;
    int lfd;
    f->srv = srv;
    f->index = index;
    f->ep = *ep;
    snprintf(f->label, sizeof(f->label), "exchange=%.32s", ep->name);
    if (gen_stream_init(&f->stream, cfg->generator.symbols, (uint64_t)cfg->generator.seed, index,
                        cfg->generator.extended, &srv->faults, err, errlen) != MF_OK)
        return MF_ERR_CONFIG;
    lfd = listen_on(ep, err, errlen);
    if (lfd < 0) return MF_ERR_IO;
    memset(&bo, 0, sizeof(bo));
    bo.label = f->label;
    bo.client_buffer = srv->opt.client_buffer;
    bo.stall_ms = STALL_DROP_MS;
    bo.ctx = f;
    bo.on_accept = on_accept;
    bo.on_close = on_close;
    if (mf_bcast_create(&f->bc, &bo) != MF_OK || mf_bcast_listen(f->bc, lfd) != MF_OK) {
        snprintf(err, errlen, "%s: cannot poll the listener: %s", ep->name, strerror(errno));
        close(lfd);
        return MF_ERR_IO;
    }
    f->batch = mf_xmalloc(BATCH_BYTES);
    feed_metrics(f);
    return MF_OK;
}

mf_status gen_server_create(gen_server **out,
                            const mf_config *cfg,
                            const gen_options *opt,
                            char *err,
                            size_t errlen) {
    mf_endpoint eps[MF_MAX_FEEDS];
    int n = 0;
    mf_status s;
    gen_server *srv = mf_xcalloc(1, sizeof(*srv));
    srv->cfg = *cfg;
    srv->opt = *opt;
    if (srv->opt.client_buffer == 0) srv->opt.client_buffer = GEN_DEFAULT_CLIENT_BUFFER;
    srv->log_fd = -1;
    pthread_mutex_init(&srv->log_mu, NULL);
    s = gen_faults_parse(cfg->generator.faults, &srv->faults, err, errlen);
    if (s == MF_OK)
        s = mf_endpoints_parse(cfg->generator.listen, eps, MF_MAX_FEEDS, &n, err, errlen);
    for (int i = 0; s == MF_OK && i < n; i++) {
        s = feed_init(srv, &srv->feeds[i], i, &eps[i], err, errlen);
        srv->nfeeds = i + 1;
    }
    if (s == MF_OK && cfg->generator.log[0]) {
        srv->log_fd =
            open(cfg->generator.log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
        if (srv->log_fd < 0) {
            snprintf(err, errlen, "generator.log: cannot open %s: %s", cfg->generator.log,
                     strerror(errno));
            s = MF_ERR_IO;
        }
    }
    if (s != MF_OK) {
        srv->stopped = 1;
        gen_server_destroy(srv);
        return s;
    }
    *out = srv;
    return MF_OK;
}

/* ---- the line log ----------------------------------------------------------------------- */

static void log_flush(gen_feed *f) {
    gen_server *srv = f->srv;
    size_t off = 0;
    f->log_flushed_ms = mf_mono_ms();
    if (f->loglen == 0 || srv->log_fd < 0) return;
    pthread_mutex_lock(&srv->log_mu);
    while (off < f->loglen) {
        ssize_t n = write(srv->log_fd, f->logbuf + off, f->loglen - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            mf_log_ratelimited(MF_LOG_ERROR, 10000, "log write failed file=%s err=\"%s\"",
                               srv->cfg.generator.log, strerror(errno));
            break;
        }
        off += (size_t)n;
    }
    pthread_mutex_unlock(&srv->log_mu);
    f->loglen = 0;
}

/* Appends "<exchange> <line>\n" for every line of the batch. */
static void log_batch(gen_feed *f) {
    size_t name_len = strlen(f->ep.name);
    size_t need = f->batch_len + (size_t)f->batch_lines * (name_len + 1);
    const char *p = f->batch, *end = f->batch + f->batch_len;
    if (f->srv->log_fd < 0) return;
    if (f->loglen + need > f->logcap) {
        f->logcap = f->loglen + need + LOG_FLUSH_BYTES;
        f->logbuf = mf_xrealloc(f->logbuf, f->logcap);
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)(nl - p) + 1;
        char *dst = f->logbuf + f->loglen;
        memcpy(dst, f->ep.name, name_len);
        dst[name_len] = ' ';
        memcpy(dst + name_len + 1, p, len);
        f->loglen += name_len + 1 + len;
        p += len;
    }
    if (f->loglen >= LOG_FLUSH_BYTES) log_flush(f);
}

/* ---- generation ------------------------------------------------------------------------- */

/* Cuts the batch after its `keep`-th line (for an exact --count). */
static void batch_truncate(gen_feed *f, int keep) {
    const char *p = f->batch;
    for (int i = 0; i < keep; i++) p = memchr(p, '\n', f->batch_len) + 1;
    f->batch_len = (size_t)(p - f->batch);
    f->batch_lines = keep;
}

/* Generates whole steps until `want` lines (or, by_steps, `want` steps) are in the batch;
 * the --count limit is exact (the batch is cut after the last allowed line). */
static void generate(gen_feed *f, int64_t want, int by_steps) {
    const gen_options *opt = &f->srv->opt;
    int64_t now = mf_now_ms();
    int steps = 0;
    f->batch_len = 0;
    f->batch_lines = 0;
    while ((by_steps ? steps : f->batch_lines) < want &&
           BATCH_BYTES - f->batch_len >= GEN_STEP_MAX) {
        steps++;
        f->batch_len += gen_stream_step(&f->stream, now, f->batch + f->batch_len, &f->batch_lines);
        if (opt->count > 0 && f->lines_sent + f->batch_lines >= opt->count) {
            batch_truncate(f, (int)(opt->count - f->lines_sent));
            break;
        }
    }
}

static void report_stream_stats(gen_feed *f) {
    gen_stream_stats *s = &f->stream.stats, *r = &f->reported;
    atomic_fetch_add(f->m_malformed, s->malformed - r->malformed);
    atomic_fetch_add(f->m_duplicate, s->duplicates - r->duplicates);
    atomic_fetch_add(f->m_reorder, s->reordered - r->reordered);
    *r = *s;
}

/* Sends the batch to every live client; logs it when at least one took it. */
static void broadcast(gen_feed *f) {
    int took;
    if (f->batch_len == 0) return;
    took = mf_bcast_send_all(f->bc, f->batch, f->batch_len);
    report_stream_stats(f);
    if (took == 0) return;
    f->lines_sent += f->batch_lines;
    atomic_fetch_add(f->m_lines, f->batch_lines);
    atomic_fetch_add(f->m_bytes, (long long)f->batch_len);
    log_batch(f);
}

/* Lines due now in rate mode (token bucket since generation started). */
static int64_t rate_due(gen_feed *f, int64_t now_ns) {
    int64_t rate = f->srv->cfg.generator.rate;
    int64_t due =
        (int64_t)((__int128)(now_ns - f->pace_start_ns) * rate / 1000000000) - f->pace_lines;
    int64_t backlog_max = rate * MAX_BACKLOG_MS / 1000 + 1;
    if (due > backlog_max) { /* we fell behind (CPU): skip, don't burst */
        f->pace_lines += due - backlog_max;
        due = backlog_max;
    }
    return due;
}

/* Generates and broadcasts what is due; returns the ms until more is due (<= 50). */
static int produce(gen_feed *f) {
    const mf_config *cfg = &f->srv->cfg;
    int64_t now_ns = mf_mono_ns(), now_ms = now_ns / 1000000;
    if (f->finished || mf_bcast_clients(f->bc) == 0 || now_ms < f->pause_until_ms) {
        f->generating = 0;
        return 50;
    }
    if (mf_bcast_all_behind(f->bc)) return 1; /* EPOLLOUT wakes us earlier */
    if (!f->generating) { /* (re)start pacing from now: the first line goes out at once */
        f->generating = 1;
        f->pace_start_ns = now_ns;
        f->pace_lines = 0;
        f->next_round_ms = now_ms;
    }
    if (cfg->generator.rate > 0) {
        int64_t due = rate_due(f, now_ns);
        if (due > 0) {
            generate(f, due < BATCH_LINES_MAX ? due : BATCH_LINES_MAX, 0);
            f->pace_lines += f->batch_lines;
            broadcast(f);
            if (due > f->batch_lines) return 0;
        }
        {
            int64_t next_ns = f->pace_start_ns + (int64_t)((__int128)(f->pace_lines + 1) *
                                                           1000000000 / cfg->generator.rate);
            int64_t wait = (next_ns - mf_mono_ns() + 999999) / 1000000;
            return wait < 0 ? 0 : wait > 50 ? 50 : (int)wait;
        }
    }
    if (now_ms >= f->next_round_ms) {
        generate(f, f->stream.nsym, 1);
        broadcast(f);
        f->next_round_ms += cfg->generator.interval_ms;
        if (f->next_round_ms <= now_ms) f->next_round_ms = now_ms + cfg->generator.interval_ms;
    }
    {
        int64_t wait = f->next_round_ms - mf_mono_ms();
        return wait < 0 ? 0 : wait > 50 ? 50 : (int)wait;
    }
}

/* Disconnect and pause faults, on timers counted from the feed's start. */
static void fault_timers(gen_feed *f) {
    const gen_faults *fl = &f->srv->faults;
    int64_t now = mf_mono_ms();
    if (fl->disconnect_every_s > 0 && now >= f->next_disconnect_ms) {
        f->next_disconnect_ms = now + (int64_t)fl->disconnect_every_s * 1000;
        if (mf_bcast_clients(f->bc) > 0) {
            mf_log(MF_LOG_INFO, "fault: disconnecting clients exchange=%s clients=%d", f->ep.name,
                   mf_bcast_clients(f->bc));
            mf_bcast_close_all(f->bc, "fault");
            atomic_fetch_add(f->m_disconnects, 1);
        }
    }
    if (fl->pause_every_s > 0 && now >= f->next_pause_ms) {
        f->next_pause_ms = now + (int64_t)fl->pause_every_s * 1000;
        f->pause_until_ms = now + fl->pause_ms;
        mf_log(MF_LOG_INFO, "fault: pause exchange=%s ms=%d", f->ep.name, fl->pause_ms);
        atomic_fetch_add(f->m_pauses, 1);
    }
}

/* After --count: close each client once its output is flushed; done when none is left. */
static void finish_clients(gen_feed *f) {
    if (!f->finished) {
        if (f->srv->opt.count <= 0 || f->lines_sent < f->srv->opt.count) return;
        f->finished = 1;
        log_flush(f);
        mf_log(MF_LOG_INFO, "count reached exchange=%s lines=%lld", f->ep.name,
               (long long)f->lines_sent);
    }
    if (mf_bcast_close_flushed(f->bc, "count reached") == 0) atomic_store(&f->done, 1);
}

/* ---- the feed thread -------------------------------------------------------------------- */

/* At stop: give pending output up to STOP_FLUSH_MS to reach the clients, then close. */
static void final_flush(gen_feed *f) {
    mf_bcast_flush(f->bc, STOP_FLUSH_MS);
    mf_bcast_close_all(f->bc, "shutdown");
    log_flush(f);
}

static void *feed_main(void *arg) {
    gen_feed *f = arg;
    char name[48];
    int timeout = 0;
    snprintf(name, sizeof(name), "gen-%s", f->ep.name); /* mf_thread_name keeps 15 */
    mf_thread_name(name);
    f->t0_ms = mf_mono_ms();
    f->log_flushed_ms = f->t0_ms;
    f->next_disconnect_ms = f->t0_ms + (int64_t)f->srv->faults.disconnect_every_s * 1000;
    f->next_pause_ms = f->t0_ms + (int64_t)f->srv->faults.pause_every_s * 1000;
    while (!atomic_load(&f->srv->stop)) {
        mf_bcast_poll(f->bc, timeout); /* frees the clients closed last round first */
        fault_timers(f);
        timeout = produce(f);
        finish_clients(f);
        if (mf_mono_ms() - f->log_flushed_ms >= LOG_FLUSH_MS) log_flush(f);
    }
    final_flush(f);
    return NULL;
}

mf_status gen_server_start(gen_server *srv) {
    for (int i = 0; i < srv->nfeeds; i++) {
        gen_feed *f = &srv->feeds[i];
        if (pthread_create(&f->thread, NULL, feed_main, f) != 0) return MF_ERR;
        f->started = 1;
        mf_log(MF_LOG_INFO, "feed listening exchange=%s addr=%s:%d symbols=%d", f->ep.name,
               f->ep.host, f->ep.port, f->stream.nsym);
    }
    return MF_OK;
}

int gen_server_done(gen_server *srv) {
    if (srv->opt.count <= 0) return 0;
    for (int i = 0; i < srv->nfeeds; i++)
        if (!atomic_load(&srv->feeds[i].done)) return 0;
    return 1;
}

void gen_server_log_totals(gen_server *srv) {
    for (int i = 0; i < srv->nfeeds; i++) {
        gen_feed *f = &srv->feeds[i];
        mf_log(MF_LOG_INFO,
               "totals exchange=%s lines=%lld bytes=%lld clients=%lld dropped=%lld "
               "malformed=%lld duplicate=%lld reorder=%lld",
               f->ep.name, (long long)atomic_load(f->m_lines), (long long)atomic_load(f->m_bytes),
               (long long)atomic_load(f->m_clients), (long long)atomic_load(f->m_dropped),
               (long long)atomic_load(f->m_malformed), (long long)atomic_load(f->m_duplicate),
               (long long)atomic_load(f->m_reorder));
    }
}

void gen_server_stop(gen_server *srv) {
    if (srv == NULL || srv->stopped) return;
    srv->stopped = 1;
    atomic_store(&srv->stop, 1);
    for (int i = 0; i < srv->nfeeds; i++) {
        if (srv->feeds[i].started) pthread_join(srv->feeds[i].thread, NULL);
        srv->feeds[i].started = 0;
    }
}

void gen_server_destroy(gen_server *srv) {
    if (srv == NULL) return;
    gen_server_stop(srv);
    for (int i = 0; i < srv->nfeeds; i++) {
        gen_feed *f = &srv->feeds[i];
        mf_bcast_destroy(f->bc);
        free(f->batch);
        free(f->logbuf);
    }
    if (srv->log_fd >= 0) close(srv->log_fd);
    pthread_mutex_destroy(&srv->log_mu);
    free(srv);
}
