/* nats_util.c: connect with retry, connection events, JetStream streams of the bus. */
#include "mf/nats_util.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/signals.h"
#include "mf/subject.h"
#include "mf/util.h"

struct mf_nats {
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    char prefix[64];
    char url[MF_CFG_STR];
    int replicas;
    int ticks_max_age_s;
    atomic_int connected;
    atomic_int closing;   /* set before a deliberate close: no "disconnected" warning then */
    atomic_int closed_cb; /* the closed callback ran: no callback can touch us after it */
    atomic_llong *disconnects;
    atomic_llong *reconnects;
    atomic_llong *async_errors;
};

#define NS_PER_S 1000000000LL

mf_status mf_nats_fail(natsStatus ns, const char *what) {
    mf_log(MF_LOG_ERROR, "nats: %s failed: %s (%s)", what, natsStatus_GetText(ns),
           nats_GetLastError(NULL));
    return MF_ERR_NATS;
}

static void on_disconnected(natsConnection *nc, void *closure) {
    mf_nats *n = closure;
    (void)nc;
    if (atomic_exchange(&n->connected, 0) && !atomic_load(&n->closing)) {
        atomic_fetch_add(n->disconnects, 1);
        mf_log(MF_LOG_WARN, "nats disconnected url=%s; reconnecting", n->url);
    }
}

static void on_reconnected(natsConnection *nc, void *closure) {
    mf_nats *n = closure;
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof(url));
    atomic_store(&n->connected, 1);
    atomic_fetch_add(n->reconnects, 1);
    mf_log(MF_LOG_INFO, "nats reconnected url=%s", url);
}

static void on_closed(natsConnection *nc, void *closure) {
    mf_nats *n = closure;
    (void)nc;
    atomic_store(&n->connected, 0);
    mf_log(MF_LOG_INFO, "nats connection closed");
    atomic_store(&n->closed_cb, 1); /* last touch of n on the callback thread */
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure) {
    mf_nats *n = closure;
    (void)nc;
    atomic_fetch_add(n->async_errors, 1);
    mf_log_ratelimited(MF_LOG_WARN, 5000, "nats async error: %s subject=%s",
                       natsStatus_GetText(err), sub ? natsSubscription_GetSubject(sub) : "-");
}

/* Capped exponential backoff between reconnect attempts: 100 ms doubling to 2 s. */
static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure) {
    (void)nc, (void)closure;
    return mf_backoff_ms(attempts, 100, 2000);
}

static natsStatus build_options(mf_nats *n, const mf_config *cfg, const char *name) {
    natsStatus ns = natsOptions_Create(&n->opts);
    if (ns == NATS_OK) ns = natsOptions_SetURL(n->opts, cfg->nats.url);
    if (ns == NATS_OK) ns = natsOptions_SetName(n->opts, name);
    if (ns == NATS_OK && cfg->nats.user[0])
        ns = natsOptions_SetUserInfo(n->opts, cfg->nats.user, cfg->nats.password);
    if (ns == NATS_OK && cfg->nats.token[0]) ns = natsOptions_SetToken(n->opts, cfg->nats.token);
    if (ns == NATS_OK && cfg->nats.tls_ca[0]) {
        ns = natsOptions_SetSecure(n->opts, true);
        if (ns == NATS_OK) ns = natsOptions_LoadCATrustedCertificates(n->opts, cfg->nats.tls_ca);
    }
    if (ns == NATS_OK) ns = natsOptions_SetMaxReconnect(n->opts, -1);
    if (ns == NATS_OK) ns = natsOptions_SetCustomReconnectDelay(n->opts, reconnect_delay, n);
    /* Publishes made while disconnected are buffered up to this size, then fail. */
    if (ns == NATS_OK) ns = natsOptions_SetReconnectBufSize(n->opts, 64 * 1024 * 1024);
    if (ns == NATS_OK) ns = natsOptions_SetMaxPendingMsgs(n->opts, 1000000);
    if (ns == NATS_OK) ns = natsOptions_SetDisconnectedCB(n->opts, on_disconnected, n);
    if (ns == NATS_OK) ns = natsOptions_SetReconnectedCB(n->opts, on_reconnected, n);
    if (ns == NATS_OK) ns = natsOptions_SetClosedCB(n->opts, on_closed, n);
    if (ns == NATS_OK) ns = natsOptions_SetErrorHandler(n->opts, on_error, n);
    return ns;
}

static mf_status connect_loop(mf_nats *n) {
    for (int attempt = 0;; attempt++) {
        natsStatus ns = natsConnection_Connect(&n->nc, n->opts);
        if (ns == NATS_OK) return MF_OK;
        if (ns != NATS_NO_SERVER && ns != NATS_TIMEOUT && ns != NATS_IO_ERROR &&
            ns != NATS_CONNECTION_CLOSED)
            return mf_nats_fail(ns, "connect"); /* auth, TLS, bad URL: retrying won't help */
        if (attempt == 0 || attempt % 20 == 0)
            mf_log(MF_LOG_WARN, "nats not reachable url=%s attempt=%d: %s; retrying", n->url,
                   attempt + 1, natsStatus_GetText(ns));
        if (mf_wait_stop((int)mf_backoff_ms(attempt, 250, 5000))) return MF_ERR_CLOSED;
    }
}

mf_status mf_nats_connect(mf_nats **out, const mf_config *cfg, const char *name) {
    return mf_nats_connect_js(out, cfg, name, NULL);
}

mf_status mf_nats_connect_js(mf_nats **out,
                             const mf_config *cfg,
                             const char *name,
                             const jsOptions *user_jo) {
    mf_nats *n = mf_xcalloc(1, sizeof(*n));
    natsStatus ns;
    mf_status s;
    snprintf(n->prefix, sizeof(n->prefix), "%s", cfg->nats.prefix);
    snprintf(n->url, sizeof(n->url), "%s", cfg->nats.url);
    n->replicas = cfg->nats.stream_replicas;
    n->ticks_max_age_s = cfg->nats.ticks_max_age_s;
    n->disconnects = mf_counter("nats_disconnects_total", "", "NATS disconnections");
    n->reconnects = mf_counter("nats_reconnects_total", "", "NATS reconnections");
    n->async_errors = mf_counter("nats_async_errors_total", "", "NATS asynchronous errors");
    ns = build_options(n, cfg, name);
    if (ns != NATS_OK) {
        mf_nats_fail(ns, "options");
        mf_nats_destroy(n);
        return MF_ERR_CONFIG;
    }
    s = connect_loop(n);
    if (s == MF_OK && cfg->nats.transport == MF_TRANSPORT_JETSTREAM) {
        jsOptions jo;
        if (user_jo != NULL) {
            jo = *user_jo;
        } else {
            jsOptions_Init(&jo);
            jo.Wait = 5000;
            jo.PublishAsync.MaxPending = cfg->collector.max_inflight;
        }
        ns = natsConnection_JetStream(&n->js, n->nc, &jo);
        if (ns != NATS_OK) s = mf_nats_fail(ns, "jetstream context");
    }
    if (s != MF_OK) {
        mf_nats_destroy(n);
        return s;
    }
    atomic_store(&n->connected, 1);
    mf_log(MF_LOG_INFO, "nats connected url=%s name=%s transport=%s", n->url, name,
           n->js ? "jetstream" : "core");
    *out = n;
    return MF_OK;
}

void mf_nats_drain(mf_nats *n, int timeout_ms) {
    int64_t end;
    if (n == NULL || n->nc == NULL || natsConnection_IsClosed(n->nc)) return;
    atomic_store(&n->closing, 1);
    if (natsConnection_DrainTimeout(n->nc, timeout_ms) != NATS_OK) {
        natsConnection_Close(n->nc);
        return;
    }
    end = mf_mono_ms() + timeout_ms + 500;
    while (!natsConnection_IsClosed(n->nc) && mf_mono_ms() < end) mf_sleep_ms(20);
    natsConnection_Close(n->nc);
}

void mf_nats_destroy(mf_nats *n) {
    if (n == NULL) return;
    atomic_store(&n->closing, 1);
    if (n->nc) {
        /* Callbacks run on nats.c's own thread, possibly after Close returns: wait for the
         * closed callback, the last one, before freeing what they point to. */
        int64_t end = mf_mono_ms() + 2000;
        natsConnection_Close(n->nc);
        while (!atomic_load(&n->closed_cb) && mf_mono_ms() < end) mf_sleep_ms(5);
    }
    jsCtx_Destroy(n->js);
    natsConnection_Destroy(n->nc);
    natsOptions_Destroy(n->opts);
    free(n);
}

natsConnection *mf_nats_conn(mf_nats *n) {
    return n->nc;
}

jsCtx *mf_nats_js(mf_nats *n) {
    return n->js;
}

int mf_nats_connected(mf_nats *n) {
    return n && n->nc && natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED;
}

const char *mf_nats_prefix(const mf_nats *n) {
    return n->prefix;
}

int mf_nats_subject(const mf_nats *n, char *buf, size_t size, const char *fmt, ...) {
    va_list ap;
    int k, m;
    k = snprintf(buf, size, "%s.", n->prefix);
    if (k < 0 || (size_t)k >= size) return -1;
    va_start(ap, fmt);
    m = vsnprintf(buf + k, size - (size_t)k, fmt, ap);
    va_end(ap);
    return (m < 0 || (size_t)(k + m) >= size) ? -1 : 0;
}

int mf_nats_stream_name(const mf_nats *n, mf_stream s, char *buf, size_t size) {
    static const char *suffix[] = {"TICKS", "ROLLUPS", "CONTROL"};
    int k = snprintf(buf, size, "%s_%s", n->prefix, suffix[s]);
    if (k < 0 || (size_t)k >= size) return -1;
    mf_str_upper(buf);
    for (char *p = buf; *p; p++)
        if (*p == '-') *p = '_';
    return 0;
}

static void stream_config(mf_nats *n, mf_stream s, jsStreamConfig *sc, char *name, char *subj) {
    static const mf_subject_family family[] = {MF_SUBJECT_TICKS, MF_SUBJECT_ROLLUPS,
                                               MF_SUBJECT_CONTROL};
    jsStreamConfig_Init(sc);
    mf_nats_stream_name(n, s, name, 64);
    mf_subject_all(subj, 96, n->prefix, family[s]);
    sc->Name = name;
    sc->Storage = js_FileStorage;
    sc->Replicas = n->replicas;
    switch (s) {
    case MF_STREAM_TICKS:
        sc->MaxAge = (int64_t)n->ticks_max_age_s * NS_PER_S;
        sc->Duplicates = 30 * NS_PER_S; /* memory grows with the ids held: keep it short */
        break;
    case MF_STREAM_ROLLUPS:
        sc->MaxAge = 3600 * NS_PER_S;
        sc->Duplicates = 120 * NS_PER_S;
        break;
    case MF_STREAM_CONTROL:
        sc->MaxMsgsPerSubject = 1; /* the current mode, for collectors that start later */
        sc->Duplicates = 10 * NS_PER_S;
        break;
    }
}

mf_status mf_nats_ensure_stream(mf_nats *n, mf_stream s) {
    jsStreamConfig sc;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    char name[64], subj[96];
    const char *subjects[1];
    natsStatus ns;
    if (n->js == NULL) return MF_ERR_INVALID_ARG;
    stream_config(n, s, &sc, name, subj);
    subjects[0] = subj;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    ns = js_AddStream(&si, n->js, &sc, NULL, &jerr);
    if (ns != NATS_OK && jerr == JSStreamNameExistErr) {
        jerr = 0;
        ns = js_UpdateStream(&si, n->js, &sc, NULL, &jerr);
    }
    jsStreamInfo_Destroy(si);
    if (ns != NATS_OK) {
        mf_log(MF_LOG_ERROR, "nats: stream %s create/update failed: %s (js error %d: %s)", name,
               natsStatus_GetText(ns), (int)jerr, nats_GetLastError(NULL));
        return MF_ERR_NATS;
    }
    mf_log(MF_LOG_DEBUG, "stream ready name=%s subjects=%s", name, subj);
    return MF_OK;
}

mf_status mf_nats_last_msg(mf_nats *n, mf_stream s, const char *subject, char **data, int *len) {
    natsMsg *msg = NULL;
    jsErrCode jerr = 0;
    char name[64];
    natsStatus ns;
    if (n->js == NULL) return MF_ERR_INVALID_ARG;
    mf_nats_stream_name(n, s, name, sizeof(name));
    ns = js_GetLastMsg(&msg, n->js, name, subject, NULL, &jerr);
    if (ns == NATS_NOT_FOUND) return MF_ERR_NOT_FOUND;
    if (ns != NATS_OK) return mf_nats_fail(ns, "get last message");
    *len = natsMsg_GetDataLength(msg);
    *data = mf_xmalloc((size_t)*len + 1);
    memcpy(*data, natsMsg_GetData(msg), (size_t)*len);
    (*data)[*len] = '\0';
    natsMsg_Destroy(msg);
    return MF_OK;
}
