/* control.c: following <prefix>.control.mode. The subscription's handler runs on its nats.c
 * delivery thread and only stores the wanted mode (under `mu`); main's loop takes it. */
#include "control.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/util.h"

struct coll_control {
    mf_nats *n;
    natsSubscription *sub;
    pthread_mutex_t mu;
    mf_mode wanted;  /* guarded by mu */
    int changed;     /* guarded by mu */
    int live_seen;   /* guarded by mu: a message came on the subscription */
    char source[32]; /* guarded by mu: "default", "stream" or "bus" */
    atomic_llong messages, malformed;
    atomic_llong *m_messages, *m_malformed;
};

int coll_control_parse(const char *data, int len, mf_mode *mode) {
    json_error_t jerr;
    json_t *root;
    int rc = -1;
    if (data == NULL || len <= 0) return -1;
    root = json_loadb(data, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) return -1;
    if (json_is_object(root)) {
        const char *m = json_string_value(json_object_get(root, "mode"));
        if (m != NULL && mf_mode_parse(m, mode) == 0) rc = 0;
    }
    json_decref(root);
    return rc;
}

static void want(coll_control *ctl, mf_mode m, const char *source, int live) {
    pthread_mutex_lock(&ctl->mu);
    if (live || !ctl->live_seen) {
        if (m != ctl->wanted) ctl->changed = 1;
        ctl->wanted = m;
        snprintf(ctl->source, sizeof(ctl->source), "%s", source);
    }
    if (live) ctl->live_seen = 1;
    pthread_mutex_unlock(&ctl->mu);
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    coll_control *ctl = closure;
    mf_mode m;
    (void)nc, (void)sub;
    atomic_fetch_add(&ctl->messages, 1);
    atomic_fetch_add(ctl->m_messages, 1);
    if (coll_control_parse(natsMsg_GetData(msg), natsMsg_GetDataLength(msg), &m) != 0) {
        atomic_fetch_add(&ctl->malformed, 1);
        atomic_fetch_add(ctl->m_malformed, 1);
        mf_log_ratelimited(MF_LOG_WARN, 5000,
                           "control message ignored (malformed) payload=\"%.*s\"",
                           natsMsg_GetDataLength(msg) > 80 ? 80 : natsMsg_GetDataLength(msg),
                           natsMsg_GetData(msg));
    } else {
        mf_log(MF_LOG_INFO, "control: mode %s requested", mf_mode_str(m));
        want(ctl, m, "bus", 1);
    }
    natsMsg_Destroy(msg);
}

/* The last stored control message; jsCtx of the connection, or a temporary one in core
 * transport (the CONTROL stream may exist even when ticks go over core NATS). */
static mf_status read_stored(coll_control *ctl, const char *subject, char **data, int *len) {
    jsCtx *js = NULL;
    natsMsg *msg = NULL;
    jsErrCode jerr = 0;
    char stream[64];
    natsStatus ns;
    if (mf_nats_js(ctl->n) != NULL)
        return mf_nats_last_msg(ctl->n, MF_STREAM_CONTROL, subject, data, len);
    if (natsConnection_JetStream(&js, mf_nats_conn(ctl->n), NULL) != NATS_OK) return MF_ERR_NATS;
    mf_nats_stream_name(ctl->n, MF_STREAM_CONTROL, stream, sizeof(stream));
    ns = js_GetLastMsg(&msg, js, stream, subject, NULL, &jerr);
    jsCtx_Destroy(js);
    if (ns != NATS_OK) return ns == NATS_NOT_FOUND ? MF_ERR_NOT_FOUND : MF_ERR_NATS;
    *len = natsMsg_GetDataLength(msg);
    *data = mf_xmalloc((size_t)*len + 1);
    memcpy(*data, natsMsg_GetData(msg), (size_t)*len);
    (*data)[*len] = '\0';
    natsMsg_Destroy(msg);
    return MF_OK;
}

static void load_stored(coll_control *ctl, const char *subject) {
    char *data = NULL;
    int len = 0;
    mf_mode m;
    mf_status s = read_stored(ctl, subject, &data, &len);
    if (s == MF_OK && coll_control_parse(data, len, &m) == 0) {
        mf_log(MF_LOG_INFO, "control: current mode %s (from the CONTROL stream)", mf_mode_str(m));
        want(ctl, m, "stream", 0);
    } else if (s == MF_OK) {
        atomic_fetch_add(&ctl->malformed, 1);
        atomic_fetch_add(ctl->m_malformed, 1);
        mf_log(MF_LOG_WARN, "control: stored mode message malformed; using default %s",
               mf_mode_str(ctl->wanted));
    } else {
        mf_log(MF_LOG_INFO, "control: no stored mode (%s); using default %s", mf_status_str(s),
               mf_mode_str(ctl->wanted));
    }
    free(data);
}

mf_status coll_control_create(coll_control **out, mf_nats *n, mf_mode default_mode) {
    char subject[160];
    natsStatus ns;
    coll_control *ctl = mf_xcalloc(1, sizeof(*ctl));
    ctl->n = n;
    ctl->wanted = default_mode;
    ctl->changed = 1;
    snprintf(ctl->source, sizeof(ctl->source), "default");
    pthread_mutex_init(&ctl->mu, NULL);
    ctl->m_messages = mf_counter("collector_control_messages_total", "", "control messages");
    ctl->m_malformed = mf_counter("collector_control_malformed_total", "",
                                  "control messages ignored as malformed");
    if (mf_nats_subject(n, subject, sizeof(subject), "control.mode") != 0) {
        coll_control_destroy(ctl);
        return MF_ERR_CONFIG;
    }
    ns = natsConnection_Subscribe(&ctl->sub, mf_nats_conn(n), subject, on_msg, ctl);
    if (ns != NATS_OK) {
        coll_control_destroy(ctl);
        return mf_nats_fail(ns, "subscribe control.mode");
    }
    load_stored(ctl, subject);
    *out = ctl;
    return MF_OK;
}

int coll_control_take(coll_control *ctl, mf_mode *mode) {
    int changed;
    pthread_mutex_lock(&ctl->mu);
    changed = ctl->changed;
    ctl->changed = 0;
    *mode = ctl->wanted;
    pthread_mutex_unlock(&ctl->mu);
    return changed;
}

void coll_control_destroy(coll_control *ctl) {
    if (ctl == NULL) return;
    if (ctl->sub != NULL) {
        natsSubscription_Unsubscribe(ctl->sub);
        natsSubscription_Destroy(ctl->sub);
    }
    pthread_mutex_destroy(&ctl->mu);
    free(ctl);
}

void coll_control_status_fill(json_t *status, coll_control *ctl) {
    json_t *o = json_object();
    json_object_set_new(o, "messages", json_integer(atomic_load(&ctl->messages)));
    json_object_set_new(o, "malformed", json_integer(atomic_load(&ctl->malformed)));
    pthread_mutex_lock(&ctl->mu);
    json_object_set_new(o, "source", json_string(ctl->source));
    pthread_mutex_unlock(&ctl->mu);
    json_object_set_new(status, "control", o);
}
