/* core.c: the persister core shared by both sinks.
 *
 * DESIGN
 * Threads:
 *   - the core thread (main, through pers_core_poll): owns the pull (mf_jspull, one request
 *     per batch) on the durable consumer "<prefix>-persister-<sink>" (filter
 *     <prefix>.rollups.1s.>), the batch buffers and the sink. Loop: sink idle work ->
 *     (re)connect the sink when due -> rebuild when the sink asks -> gather a batch (until
 *     batch_rows messages or flush_ms elapsed) ->
 *     parse + dedupe -> sink write (retried with capped backoff until it commits; InProgress
 *     keeps the held messages from being redelivered meanwhile) -> ack every message.
 *   - a nats.c delivery thread for <prefix>.latest.> when the sink takes latest ticks
 *     (Redis): it parses and hands the tick to sink->ops->on_latest, which only records it.
 *   - the heartbeat thread (mf_app) reads the atomics below in pers_core_fill_status.
 * Nothing is acked before the sink's commit, so a sink outage loses nothing: the batch is
 * held and retried, the stream keeps the rest. A redelivery (lost ack, crash after commit,
 * another replica) is harmless because every sink merges each (producer, seq) once. */
#include "core.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "mf/jspull.h"
#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/signals.h"
#include "mf/subject.h"
#include "mf/util.h"

#define NS_PER_MS 1000000LL
#define ACK_WAIT_S 60
#define MAX_ACK_PENDING 200000
#define IN_PROGRESS_EVERY_MS 20000
#define REBUILD_IDLE_MS 1000

struct pers_core {
    mf_nats *nats;
    pers_sink *sink;
    char stream[64];
    char filter[160];
    char durable[128];
    char latest_subject[160];
    int batch_max;
    int flush_ms;
    mf_jspull *pull; /* the durable consumer, pulled by hand (mf/jspull.h) */
    natsSubscription *latest_sub;
    natsMsg **msgs;
    size_t nmsgs;
    unsigned char *disp; /* per message: what to do once the batch is settled */
    mf_rollup *parsed;
    mf_rollup *uniq;
    int fetch_errors;
    int ensure_attempt;
    int64_t next_ensure; /* monotonic ms */
    atomic_int connected;
    atomic_llong backlog;
    atomic_llong last_commit_ts;
    atomic_llong *batches, *applied, *duplicates, *rows, *skipped, *errors, *rebuilds;
    atomic_llong *rebuild_partials, *latest_in, *latest_bad;
    atomic_llong *rejected[PERS_REJECT_COUNT];
};

enum { DISP_ACK = 0, DISP_TERM = 1 };

int pers_durable_name(const char *prefix, const char *sink, char *buf, size_t size) {
    int k = snprintf(buf, size, "%s-persister-%s", prefix, sink);
    if (k < 0 || (size_t)k >= size) return -1;
    for (char *p = buf; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            *p = '_';
    }
    return 0;
}

static void register_metrics(pers_core *c) {
    char lab[64];
    snprintf(lab, sizeof(lab), "sink=\"%s\"", c->sink->ops->name);
    c->batches = mf_counter("persister_batches_total", lab, "batches committed");
    c->applied = mf_counter("persister_partials_written_total", lab,
                            "rollup partials merged for the first time");
    c->duplicates =
        mf_counter("persister_duplicates_total", lab, "partials skipped because already merged");
    c->rows = mf_counter("persister_rows_written_total", lab, "rows or hashes written");
    c->skipped = mf_counter("persister_skipped_total", lab,
                            "partials outside the sink's scope (older than the cache window)");
    c->errors = mf_counter("persister_errors_total", lab, "failed writes (retried)");
    c->rebuilds = mf_counter("persister_rebuilds_total", lab, "rebuilds from the stream");
    c->rebuild_partials =
        mf_counter("persister_rebuild_partials_total", lab, "partials replayed by rebuilds");
    c->latest_in = mf_counter("persister_latest_total", lab, "latest ticks received");
    c->latest_bad = mf_counter("persister_latest_rejected_total", lab, "malformed latest ticks");
    for (int r = PERS_REJECT_JSON; r < PERS_REJECT_COUNT; r++) {
        char l2[128];
        snprintf(l2, sizeof(l2), "%s,reason=\"%s\"", lab, pers_reject_str((pers_reject)r));
        c->rejected[r] = mf_counter("persister_rejected_total", l2,
                                    "messages not written (bad or empty partials)");
    }
}

mf_status pers_core_create(pers_core **out, mf_nats *nats, const mf_config *cfg, pers_sink *sink) {
    pers_core *c = mf_xcalloc(1, sizeof(*c));
    c->nats = nats;
    c->sink = sink;
    c->batch_max = cfg->persister.batch_rows;
    c->flush_ms = cfg->persister.flush_ms;
    if (mf_nats_stream_name(nats, MF_STREAM_ROLLUPS, c->stream, sizeof(c->stream)) != 0 ||
        mf_subject_all(c->filter, sizeof(c->filter), mf_nats_prefix(nats), MF_SUBJECT_ROLLUPS_1S) <
            0 ||
        mf_subject_all(c->latest_subject, sizeof(c->latest_subject), mf_nats_prefix(nats),
                       MF_SUBJECT_LATEST) < 0 ||
        pers_durable_name(mf_nats_prefix(nats), sink->ops->name, c->durable, sizeof(c->durable))) {
        free(c);
        return MF_ERR_CONFIG;
    }
    c->msgs = mf_xcalloc((size_t)c->batch_max, sizeof(*c->msgs));
    c->disp = mf_xcalloc((size_t)c->batch_max, 1);
    c->parsed = mf_xcalloc((size_t)c->batch_max, sizeof(*c->parsed));
    c->uniq = mf_xcalloc((size_t)c->batch_max, sizeof(*c->uniq));
    register_metrics(c);
    *out = c;
    return MF_OK;
}

void pers_core_destroy(pers_core *c) {
    if (c == NULL) return;
    for (size_t i = 0; i < c->nmsgs; i++) natsMsg_Destroy(c->msgs[i]);
    mf_jspull_destroy(c->pull);
    natsSubscription_Destroy(c->latest_sub);
    free(c->msgs);
    free(c->disp);
    free(c->parsed);
    free(c->uniq);
    free(c);
}

/* ---- consumer ----------------------------------------------------------------------------- */

/* Creates or updates the durable consumer (idempotent: several replicas may race), then binds
 * the hand-driven pull (mf_jspull: one request per batch) to it. A consumer that exists with
 * settings the server refuses to update is used as it is. */
static mf_status ensure_consumer(pers_core *c) {
    jsCtx *js = mf_nats_js(c->nats);
    jsConsumerConfig cc;
    jsConsumerInfo *ci = NULL;
    mf_jspull_config pc = {.stream = c->stream,
                           .consumer = c->durable,
                           .batch = c->batch_max,
                           .expires_ms = c->flush_ms};
    jsErrCode jerr = 0;
    natsStatus ns;
    mf_status s;
    jsConsumerConfig_Init(&cc);
    cc.Durable = c->durable;
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = (int64_t)ACK_WAIT_S * 1000 * NS_PER_MS;
    cc.MaxAckPending = MAX_ACK_PENDING;
    cc.MaxDeliver = -1;
    cc.FilterSubject = c->filter;
    /* The cache replays its window from the stream at start, so its consumer starts with new
     * messages; the database wants everything the stream still holds. */
    cc.DeliverPolicy = c->sink->ops->want_rebuild ? js_DeliverNew : js_DeliverAll;
    ns = js_AddConsumer(&ci, js, c->stream, &cc, NULL, &jerr);
    if (ns != NATS_OK) {
        jerr = 0;
        ns = js_UpdateConsumer(&ci, js, c->stream, &cc, NULL, &jerr);
    }
    if (ns != NATS_OK) {
        jerr = 0;
        ns = js_GetConsumerInfo(&ci, js, c->stream, c->durable, NULL, &jerr);
        if (ns == NATS_OK)
            mf_log(MF_LOG_WARN, "consumer %s exists with other settings; using it as it is",
                   c->durable);
    }
    jsConsumerInfo_Destroy(ci);
    if (ns != NATS_OK) return mf_nats_fail(ns, "durable consumer create/update");
    s = mf_jspull_create(&c->pull, mf_nats_conn(c->nats), &pc);
    if (s != MF_OK) return s;
    mf_log(MF_LOG_INFO, "consuming stream=%s consumer=%s filter=%s", c->stream, c->durable,
           c->filter);
    return MF_OK;
}

static void on_latest(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    pers_core *c = closure;
    mf_tick t;
    (void)nc, (void)sub;
    if (mf_tick_from_json(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &t) == MF_OK) {
        atomic_fetch_add(c->latest_in, 1);
        c->sink->ops->on_latest(c->sink->impl, &t);
    } else {
        atomic_fetch_add(c->latest_bad, 1);
        mf_log_ratelimited(MF_LOG_WARN, 10000, "malformed latest message subject=%s",
                           natsMsg_GetSubject(msg));
    }
    natsMsg_Destroy(msg);
}

static mf_status subscribe_latest(pers_core *c) {
    natsStatus ns;
    if (c->sink->ops->on_latest == NULL || c->latest_sub != NULL) return MF_OK;
    ns = natsConnection_Subscribe(&c->latest_sub, mf_nats_conn(c->nats), c->latest_subject,
                                  on_latest, c);
    if (ns != NATS_OK) return mf_nats_fail(ns, "subscribe latest");
    return MF_OK;
}

/* ---- sink connection and rebuild ----------------------------------------------------------- */

/* Tries to (re)connect the sink when it is down and its backoff is due; never blocks long. */
static void keep_sink_connected(pers_core *c) {
    int64_t now = mf_mono_ms();
    if (c->sink->ops->connected(c->sink->impl) || now < c->next_ensure) return;
    if (c->sink->ops->ensure(c->sink->impl) == MF_OK) {
        c->ensure_attempt = 0;
        return;
    }
    c->next_ensure = now + mf_backoff_ms(c->ensure_attempt++, 250, 5000);
}

static mf_status write_rebuild(pers_core *c, mf_rollup *buf, size_t n, size_t *total) {
    pers_result res;
    size_t nu;
    mf_status s;
    mf_rollup *uniq = mf_xmalloc(n * sizeof(*uniq));
    nu = pers_dedupe(buf, n, uniq);
    s = c->sink->ops->write(c->sink->impl, uniq, nu, &res);
    free(uniq);
    if (s == MF_ERR_PARSE) s = MF_OK; /* a poison partial must not block the rebuild */
    if (s == MF_OK) {
        *total += nu;
        atomic_fetch_add(c->rebuild_partials, (long long)nu);
        atomic_fetch_add(c->applied, res.applied);
        atomic_fetch_add(c->rows, res.rows);
    }
    return s;
}

/* A temporary pull consumer over the window (AckNone), named after this process; the server
 * drops it by itself 60 s after its last use should we die before deleting it. */
static mf_status
rebuild_consumer(pers_core *c, char *name, size_t size, int64_t from_ns, mf_jspull **rs) {
    jsCtx *js = mf_nats_js(c->nats);
    jsConsumerConfig cc;
    jsConsumerInfo *ci = NULL;
    mf_jspull_config pc = {.stream = c->stream,
                           .consumer = name,
                           .batch = c->batch_max,
                           .expires_ms = REBUILD_IDLE_MS};
    jsErrCode jerr = 0;
    natsStatus ns;
    mf_status s;
    snprintf(name, size, "%s-rebuild-%d", c->durable, (int)getpid());
    js_DeleteConsumer(js, c->stream, name, NULL, &jerr); /* a leftover of an earlier rebuild */
    jsConsumerConfig_Init(&cc);
    cc.Durable = name;
    cc.AckPolicy = js_AckNone;
    cc.DeliverPolicy = js_DeliverByStartTime;
    cc.OptStartTime = from_ns;
    cc.FilterSubject = c->filter;
    cc.InactiveThreshold = 60LL * 1000 * NS_PER_MS;
    ns = js_AddConsumer(&ci, js, c->stream, &cc, NULL, &jerr);
    jsConsumerInfo_Destroy(ci);
    if (ns != NATS_OK) return mf_nats_fail(ns, "rebuild consumer");
    s = mf_jspull_create(rs, mf_nats_conn(c->nats), &pc);
    if (s != MF_OK) js_DeleteConsumer(js, c->stream, name, NULL, &jerr);
    return s;
}

/* Fetches the next messages of the rebuild into buf[*n..]. Returns 1 when the window is
 * exhausted (nothing more, or a message stored after the rebuild began), 0 to go on, -1 on a
 * bus failure. */
static int rebuild_fetch(pers_core *c,
                         mf_jspull *rs,
                         natsMsg **msgs,
                         mf_rollup *buf,
                         size_t *n,
                         int64_t start_ns) {
    int last = 0, count = 0;
    mf_status s = mf_jspull_fetch(rs, msgs, c->batch_max - (int)*n, REBUILD_IDLE_MS, &count);
    if (s == MF_ERR_TIMEOUT) return 1;
    if (s != MF_OK) {
        mf_log(MF_LOG_ERROR, "rebuild fetch failed: %s", mf_status_str(s));
        return -1;
    }
    for (int i = 0; i < count; i++) {
        natsMsg *m = msgs[i];
        jsMsgMetaData *meta = NULL;
        if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
            if (meta->NumPending == 0 || meta->Timestamp >= start_ns) last = 1;
            jsMsgMetaData_Destroy(meta);
        }
        if (pers_parse(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &buf[*n]) == PERS_OK)
            (*n)++;
        natsMsg_Destroy(m);
    }
    return last;
}

/* Replays the sink's window (now - rebuild_window_s) from the stream, up to the messages
 * stored when the rebuild began (the durable consumer covers the rest). Idempotent: the sink
 * skips partials it already holds. */
static mf_status rebuild(pers_core *c) {
    int64_t t0 = mf_mono_ms(), start_ns = mf_now_ms() * NS_PER_MS;
    int64_t from_ns = start_ns - (int64_t)c->sink->rebuild_window_s * 1000 * NS_PER_MS;
    mf_jspull *rs = NULL;
    natsMsg **msgs;
    char name[192];
    jsErrCode jerr = 0;
    mf_status s;
    size_t n = 0, total = 0;
    mf_rollup *buf;
    s = rebuild_consumer(c, name, sizeof(name), from_ns, &rs);
    if (s != MF_OK) return s;
    buf = mf_xmalloc((size_t)c->batch_max * sizeof(*buf));
    msgs = mf_xmalloc((size_t)c->batch_max * sizeof(*msgs));
    for (;;) {
        int done = rebuild_fetch(c, rs, msgs, buf, &n, start_ns);
        if (done < 0) {
            s = MF_ERR_NATS;
            break;
        }
        if (n > 0 && (done || n == (size_t)c->batch_max)) {
            s = write_rebuild(c, buf, n, &total);
            n = 0;
            if (s != MF_OK) break;
        }
        if (done) break;
        if (mf_stop_requested()) {
            s = MF_ERR_CLOSED;
            break;
        }
    }
    mf_jspull_destroy(rs);
    js_DeleteConsumer(mf_nats_js(c->nats), c->stream, name, NULL, &jerr);
    free(msgs);
    free(buf);
    if (s != MF_OK) return s;
    c->sink->ops->rebuild_done(c->sink->impl);
    atomic_fetch_add(c->rebuilds, 1);
    mf_log(MF_LOG_INFO, "rebuild done window_s=%d partials=%zu ms=%" PRId64,
           c->sink->rebuild_window_s, total, mf_mono_ms() - t0);
    return MF_OK;
}

static mf_status maybe_rebuild(pers_core *c) {
    if (c->sink->ops->want_rebuild == NULL || !c->sink->ops->want_rebuild(c->sink->impl))
        return MF_OK;
    return rebuild(c);
}

/* ---- batches -------------------------------------------------------------------------------- */

/* Collects one batch: one pull request of batch_rows messages expiring in flush_ms, taken
 * until it is full or ends (mf_jspull_fetch; nats.c's Fetch overflowed its list when a partial
 * batch was topped up, see mf/jspull.h). Returns how many it holds. */
static size_t gather(pers_core *c) {
    int count = 0;
    mf_status s = mf_jspull_fetch(c->pull, c->msgs, c->batch_max, c->flush_ms, &count);
    if (s == MF_ERR_TIMEOUT) return 0;
    if (s != MF_OK) {
        c->fetch_errors++;
        mf_log_ratelimited(MF_LOG_WARN, 10000, "fetch failed: %s", mf_status_str(s));
        mf_wait_stop(250);
        return 0;
    }
    c->fetch_errors = 0;
    c->nmsgs = (size_t)count;
    return c->nmsgs;
}

/* Parses the batch into c->parsed and marks each message's disposition. Returns how many
 * partials are to be written. */
static size_t parse_batch(pers_core *c) {
    size_t np = 0;
    for (size_t i = 0; i < c->nmsgs; i++) {
        natsMsg *m = c->msgs[i];
        pers_reject r =
            pers_parse(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &c->parsed[np]);
        c->disp[i] = DISP_ACK;
        if (r == PERS_OK) {
            np++;
            continue;
        }
        atomic_fetch_add(c->rejected[r], 1);
        if (r != PERS_REJECT_EMPTY) {
            c->disp[i] = DISP_TERM; /* redelivering it would not make it valid */
            mf_log_ratelimited(MF_LOG_WARN, 10000, "rejected message subject=%s reason=%s",
                               natsMsg_GetSubject(m), pers_reject_str(r));
        }
    }
    return np;
}

static void in_progress_all(pers_core *c) {
    natsConnection *nc = mf_nats_conn(c->nats);
    for (size_t i = 0; i < c->nmsgs; i++) mf_jspull_reply(nc, c->msgs[i], MF_JSPULL_PROGRESS);
}

/* Writes until the sink commits (MF_OK), rejects the data itself (MF_ERR_PARSE) or a stop is
 * requested (MF_ERR_CLOSED). Never gives up on an outage. */
static mf_status commit(pers_core *c, const mf_rollup *rs, size_t n, pers_result *res) {
    int64_t next_progress = mf_mono_ms() + IN_PROGRESS_EVERY_MS;
    for (int attempt = 0;; attempt++) {
        mf_status s = c->sink->ops->ensure(c->sink->impl);
        if (s == MF_OK) s = maybe_rebuild(c);
        if (s == MF_OK) s = c->sink->ops->write(c->sink->impl, rs, n, res);
        if (s == MF_OK || s == MF_ERR_PARSE) {
            if (attempt > 0) mf_log(MF_LOG_INFO, "sink back after %d retries", attempt);
            return s;
        }
        atomic_fetch_add(c->errors, 1);
        if (attempt == 0)
            mf_log(MF_LOG_WARN, "sink %s unavailable: holding batch partials=%zu, retrying",
                   c->sink->ops->name, n);
        if (mf_wait_stop((int)mf_backoff_ms(attempt, 250, 5000))) return MF_ERR_CLOSED;
        if (mf_mono_ms() >= next_progress) {
            in_progress_all(c); /* keep AckWait from redelivering what we hold */
            next_progress = mf_mono_ms() + IN_PROGRESS_EVERY_MS;
        }
    }
}

/* The sink refused the batch as data: write the partials one by one, drop the refused. */
static mf_status commit_each(pers_core *c, const mf_rollup *rs, size_t n, pers_result *total) {
    memset(total, 0, sizeof(*total));
    for (size_t i = 0; i < n; i++) {
        pers_result one;
        mf_status s = commit(c, &rs[i], 1, &one);
        if (s == MF_ERR_CLOSED) return s;
        if (s == MF_ERR_PARSE) {
            atomic_fetch_add(c->rejected[PERS_REJECT_JSON], 1);
            mf_log(MF_LOG_WARN, "sink refused partial producer=%s seq=%" PRIu64 "; dropped",
                   rs[i].producer, rs[i].seq);
            continue;
        }
        total->applied += one.applied;
        total->duplicates += one.duplicates;
        total->rows += one.rows;
        total->skipped += one.skipped;
    }
    return MF_OK;
}

static void settle(pers_core *c, mf_status s) {
    natsConnection *nc = mf_nats_conn(c->nats);
    uint64_t pending = 0;
    int have_pending = 0;
    for (size_t i = 0; i < c->nmsgs; i++) {
        natsMsg *m = c->msgs[i];
        if (s != MF_OK) /* stopping with the sink down: let another replica take it */
            mf_jspull_reply(nc, m, MF_JSPULL_NAK);
        else if (c->disp[i] == DISP_TERM)
            mf_jspull_reply(nc, m, MF_JSPULL_TERM);
        else
            mf_jspull_reply(nc, m, MF_JSPULL_ACK);
        if (i + 1 == c->nmsgs) {
            jsMsgMetaData *meta = NULL;
            if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
                pending = meta->NumPending;
                have_pending = 1;
                jsMsgMetaData_Destroy(meta);
            }
        }
        natsMsg_Destroy(m);
    }
    if (have_pending) atomic_store(&c->backlog, (long long)pending);
    c->nmsgs = 0;
}

static void process_batch(pers_core *c) {
    pers_result res = {0};
    int64_t t0 = mf_mono_ms();
    size_t nm = c->nmsgs;
    size_t np = parse_batch(c);
    size_t nu = pers_dedupe(c->parsed, np, c->uniq);
    mf_status s = MF_OK;
    if (nu > 0) {
        s = commit(c, c->uniq, nu, &res);
        if (s == MF_ERR_PARSE) s = commit_each(c, c->uniq, nu, &res);
    }
    settle(c, s);
    if (s != MF_OK) return;
    res.duplicates += (int64_t)(np - nu);
    atomic_fetch_add(c->batches, 1);
    atomic_fetch_add(c->applied, res.applied);
    atomic_fetch_add(c->duplicates, res.duplicates);
    atomic_fetch_add(c->rows, res.rows);
    atomic_fetch_add(c->skipped, res.skipped);
    atomic_store(&c->last_commit_ts, mf_now_ms());
    mf_log(MF_LOG_DEBUG,
           "batch committed messages=%zu partials=%zu applied=%" PRId64 " rows=%" PRId64
           " ms=%" PRId64,
           nm, nu, res.applied, res.rows, mf_mono_ms() - t0);
}

/* ---- run ------------------------------------------------------------------------------------- */

static int connect_bus(pers_core *c) {
    for (int attempt = 0; !mf_stop_requested(); attempt++) {
        if (ensure_consumer(c) == MF_OK && subscribe_latest(c) == MF_OK) return 1;
        mf_jspull_destroy(c->pull);
        c->pull = NULL;
        mf_wait_stop((int)mf_backoff_ms(attempt, 250, 5000));
    }
    return 0;
}

/* One turn of the loop: binds the consumer first when it is not (retrying until a stop),
 * then sink idle work -> (re)connect -> rebuild -> one batch. Returns 1 once a stop came
 * while binding, else 0. */
int pers_core_poll(pers_core *c) {
    if (c->pull == NULL && !connect_bus(c)) return 1;
    if (c->sink->ops->idle) c->sink->ops->idle(c->sink->impl);
    keep_sink_connected(c);
    atomic_store(&c->connected, c->sink->ops->connected(c->sink->impl));
    if (c->sink->ops->connected(c->sink->impl) && maybe_rebuild(c) != MF_OK) mf_wait_stop(500);
    if (gather(c) > 0) process_batch(c);
    if (c->fetch_errors >= 20) { /* consumer deleted or bus trouble: bind again */
        mf_log(MF_LOG_WARN, "fetch keeps failing; binding the consumer again");
        mf_jspull_destroy(c->pull);
        c->pull = NULL;
        c->fetch_errors = 0;
    }
    return 0;
}

void pers_core_stop(pers_core *c) {
    if (c == NULL) return;
    /* A batch gathered when the stop came is written (or released) before returning. */
    if (c->nmsgs > 0) process_batch(c);
    if (c->latest_sub) natsSubscription_Unsubscribe(c->latest_sub);
    /* Ends the pull inbox only: the consumer stays on the server, and its unacked messages go
     * to the other replicas. */
    mf_jspull_destroy(c->pull);
    c->pull = NULL;
    mf_log(MF_LOG_INFO, "core stopped batches=%lld partials=%lld rows=%lld duplicates=%lld",
           (long long)atomic_load(c->batches), (long long)atomic_load(c->applied),
           (long long)atomic_load(c->rows), (long long)atomic_load(c->duplicates));
}

void pers_core_fill_status(json_t *o, void *ctx) {
    pers_core *c = ctx;
    long long rejected = 0;
    for (int r = PERS_REJECT_JSON; r < PERS_REJECT_COUNT; r++)
        if (r != PERS_REJECT_EMPTY) rejected += atomic_load(c->rejected[r]);
    json_object_set_new(o, "sink", json_string(c->sink->ops->name));
    json_object_set_new(o, "connected", json_boolean(atomic_load(&c->connected)));
    json_object_set_new(o, "consumer", json_string(c->durable));
    json_object_set_new(o, "batches", json_integer(atomic_load(c->batches)));
    json_object_set_new(o, "partials_written", json_integer(atomic_load(c->applied)));
    json_object_set_new(o, "rows_written", json_integer(atomic_load(c->rows)));
    json_object_set_new(o, "duplicates_skipped", json_integer(atomic_load(c->duplicates)));
    json_object_set_new(o, "skipped", json_integer(atomic_load(c->skipped)));
    json_object_set_new(o, "rejected", json_integer(rejected));
    json_object_set_new(o, "last_commit_ts", json_integer(atomic_load(&c->last_commit_ts)));
    json_object_set_new(o, "backlog", json_integer(atomic_load(&c->backlog)));
    json_object_set_new(o, "errors", json_integer(atomic_load(c->errors)));
    json_object_set_new(o, "rebuilds", json_integer(atomic_load(c->rebuilds)));
    if (c->sink->ops->fill_status) c->sink->ops->fill_status(c->sink->impl, o);
}
