/* jspull.c: the hand-driven pull consumer (see mf/jspull.h). */
#include "mf/jspull.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf/log.h"
#include "mf/nats_util.h"
#include "mf/util.h"

#define NS_PER_MS 1000000LL

struct mf_jspull {
    natsConnection *nc;
    natsSubscription *sub;
    int batch;
    int expires_ms;
    char inbox[128]; /* replies: "<inbox>.<request number>" */
    size_t inbox_len;
    char next_subject[256]; /* $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer> */
    char latest[160];       /* the reply subject of the last request */
    uint64_t requests;
    int since; /* messages since the last request */
    int ended; /* the last request ended (or none was sent yet) */
    int stopped;
    int64_t last_req; /* monotonic ms */
};

mf_status mf_jspull_create(mf_jspull **out, natsConnection *nc, const mf_jspull_config *cfg) {
    mf_jspull *p;
    natsInbox *inbox = NULL;
    char wild[160];
    natsStatus ns;
    if (cfg->batch < 2 || cfg->expires_ms <= 0) return MF_ERR_INVALID_ARG;
    p = mf_xcalloc(1, sizeof(*p));
    p->nc = nc;
    p->batch = cfg->batch;
    p->expires_ms = cfg->expires_ms;
    p->ended = 1;
    if (snprintf(p->next_subject, sizeof(p->next_subject), "$JS.API.CONSUMER.MSG.NEXT.%s.%s",
                 cfg->stream, cfg->consumer) >= (int)sizeof(p->next_subject)) {
        free(p);
        return MF_ERR_CONFIG;
    }
    ns = natsInbox_Create(&inbox);
    if (ns != NATS_OK) {
        free(p);
        return mf_nats_fail(ns, "inbox");
    }
    snprintf(p->inbox, sizeof(p->inbox), "%s", (const char *)inbox);
    p->inbox_len = strlen(p->inbox);
    natsInbox_Destroy(inbox);
    snprintf(wild, sizeof(wild), "%s.*", p->inbox);
    ns = natsConnection_SubscribeSync(&p->sub, nc, wild);
    if (ns == NATS_OK) ns = natsSubscription_SetPendingLimits(p->sub, -1, -1);
    if (ns != NATS_OK) {
        mf_jspull_destroy(p);
        return mf_nats_fail(ns, "pull inbox subscribe");
    }
    *out = p;
    return MF_OK;
}

void mf_jspull_destroy(mf_jspull *p) {
    if (p == NULL) return;
    if (p->sub != NULL) natsSubscription_Unsubscribe(p->sub);
    natsSubscription_Destroy(p->sub);
    free(p);
}

void mf_jspull_stop_requests(mf_jspull *p) {
    p->stopped = 1;
}

natsStatus mf_jspull_ack(natsConnection *nc, const char *reply) {
    return natsConnection_Publish(nc, reply, "+ACK", 4);
}

static void request(mf_jspull *p, int64_t now) {
    char body[96];
    int len = snprintf(body, sizeof(body), "{\"batch\":%d,\"expires\":%lld}", p->batch,
                       (long long)p->expires_ms * NS_PER_MS);
    snprintf(p->latest, sizeof(p->latest), "%s.%llu", p->inbox, (unsigned long long)++p->requests);
    if (natsConnection_PublishRequest(p->nc, p->next_subject, p->latest, body, len) != NATS_OK) {
        mf_log_ratelimited(MF_LOG_WARN, 5000, "pull request failed: %s", nats_GetLastError(NULL));
        mf_sleep_ms(100);
    }
    p->since = p->ended = 0;
    p->last_req = now;
}

/* A status message on the inbox: notes whether it ends the last request. */
static void on_status(mf_jspull *p, natsMsg *m, const char *status) {
    int ends = strcmp(status, "100") != 0;
    if (ends && strcmp(natsMsg_GetSubject(m), p->latest) == 0) p->ended = 1;
    if (strcmp(status, "404") != 0 && strcmp(status, "408") != 0 && strcmp(status, "100") != 0) {
        const char *desc = NULL;
        natsMsgHeader_Get(m, "Description", &desc);
        mf_log_ratelimited(MF_LOG_WARN, 5000, "pull status %s%s%s", status, desc ? " " : "",
                           desc ? desc : "");
    }
}

mf_status mf_jspull_next(mf_jspull *p, natsMsg **msg, int wait_ms) {
    const char *status = NULL;
    natsMsg *m = NULL;
    natsStatus ns;
    if (!p->stopped) {
        int64_t now = mf_mono_ms();
        if (p->ended || p->since >= p->batch / 2 || now - p->last_req >= p->expires_ms)
            request(p, now);
    }
    ns = natsSubscription_NextMsg(&m, p->sub, wait_ms);
    if (ns == NATS_TIMEOUT) return MF_ERR_TIMEOUT;
    if (ns != NATS_OK) {
        mf_log_ratelimited(MF_LOG_WARN, 5000, "pull inbox: %s", natsStatus_GetText(ns));
        mf_sleep_ms(100);
        return MF_ERR_NATS;
    }
    /* Status messages come on our inbox; the consumer's messages on their stream subject. */
    if (strncmp(natsMsg_GetSubject(m), p->inbox, p->inbox_len) == 0 &&
        natsMsgHeader_Get(m, "Status", &status) == NATS_OK && status != NULL) {
        on_status(p, m, status);
        natsMsg_Destroy(m);
        return MF_ERR_TIMEOUT;
    }
    p->since++;
    *msg = m;
    return MF_OK;
}
