/* control.c: following <prefix>.control.mode. The subscription's handler runs on its nats.c
 * delivery thread and only stores the wanted mode (under `mu`); main's loop takes it. */
#include "control.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf/control.h"
#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/subject.h"
#include "mf/util.h"

struct coll_control {
    mf_nats *n;
    natsSubscription *sub;
    pthread_mutex_t mu;
    coll__mode_state st; /* guarded by mu */
    atomic_llong messages, malformed;
    atomic_llong *m_messages, *m_malformed;
};

void coll__mode_init(coll__mode_state *st, mf_mode default_mode) {
    memset(st, 0, sizeof(*st));
    st->wanted = default_mode;
    st->changed = 1;
    snprintf(st->source, sizeof(st->source), "default");
}

void coll__mode_offer(coll__mode_state *st, mf_mode m, const char *source, int live) {
    if (live || !st->live_seen) {
        if (m != st->wanted) st->changed = 1;
        st->wanted = m;
        snprintf(st->source, sizeof(st->source), "%s", source);
    }
    if (live) st->live_seen = 1;
}

int coll__mode_take(coll__mode_state *st, mf_mode *mode) {
    int changed = st->changed;
    st->changed = 0;
    *mode = st->wanted;
    return changed;
}

static void want(coll_control *ctl, mf_mode m, const char *source, int live) {
    pthread_mutex_lock(&ctl->mu);
    coll__mode_offer(&ctl->st, m, source, live);
    pthread_mutex_unlock(&ctl->mu);
}

static void count_malformed(coll_control *ctl) {
    atomic_fetch_add(&ctl->malformed, 1);
    atomic_fetch_add(ctl->m_malformed, 1);
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    coll_control *ctl = closure;
    mf_control_msg m;
    int len = natsMsg_GetDataLength(msg);
    (void)nc, (void)sub;
    atomic_fetch_add(&ctl->messages, 1);
    atomic_fetch_add(ctl->m_messages, 1);
    if (mf_control_decode(natsMsg_GetData(msg), (size_t)len, &m) != MF_OK) {
        count_malformed(ctl);
        mf_log_ratelimited(MF_LOG_WARN, 5000,
                           "control message ignored (malformed) payload=\"%.*s\"",
                           len > 80 ? 80 : len, natsMsg_GetData(msg));
    } else {
        mf_log(MF_LOG_INFO, "control: mode %s requested", mf_mode_str(m.mode));
        want(ctl, m.mode, "bus", 1);
    }
    natsMsg_Destroy(msg);
}

static void load_stored(coll_control *ctl, mf_mode default_mode) {
    mf_control_msg m;
    mf_status s = mf_control_read_stored(ctl->n, &m);
    if (s == MF_OK) {
        mf_log(MF_LOG_INFO, "control: current mode %s (from the CONTROL stream)",
               mf_mode_str(m.mode));
        want(ctl, m.mode, "stream", 0);
    } else if (s == MF_ERR_PARSE) {
        count_malformed(ctl);
        mf_log(MF_LOG_WARN, "control: stored mode message malformed; using default %s",
               mf_mode_str(default_mode));
    } else {
        mf_log(MF_LOG_INFO, "control: no stored mode (%s); using default %s", mf_status_str(s),
               mf_mode_str(default_mode));
    }
}

mf_status coll_control_create(coll_control **out, mf_nats *n, mf_mode default_mode) {
    char subject[MF_SUBJECT_MAX];
    natsStatus ns;
    coll_control *ctl = mf_xcalloc(1, sizeof(*ctl));
    ctl->n = n;
    coll__mode_init(&ctl->st, default_mode);
    pthread_mutex_init(&ctl->mu, NULL);
    ctl->m_messages = mf_counter("collector_control_messages_total", "", "control messages");
    ctl->m_malformed = mf_counter("collector_control_malformed_total", "",
                                  "control messages ignored as malformed");
    if (mf_subject_control_mode(subject, sizeof(subject), mf_nats_prefix(n)) < 0) {
        coll_control_destroy(ctl);
        return MF_ERR_CONFIG;
    }
    ns = natsConnection_Subscribe(&ctl->sub, mf_nats_conn(n), subject, on_msg, ctl);
    if (ns != NATS_OK) {
        coll_control_destroy(ctl);
        return mf_nats_fail(ns, "subscribe control.mode");
    }
    load_stored(ctl, default_mode);
    *out = ctl;
    return MF_OK;
}

int coll_control_take(coll_control *ctl, mf_mode *mode) {
    int changed;
    pthread_mutex_lock(&ctl->mu);
    changed = coll__mode_take(&ctl->st, mode);
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
    json_object_set_new(o, "source", json_string(ctl->st.source));
    pthread_mutex_unlock(&ctl->mu);
    json_object_set_new(status, "control", o);
}
