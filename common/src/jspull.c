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

natsStatus mf_jspull_reply(natsConnection *nc, natsMsg *m, mf_jspull_reply_kind kind) {
    static const char *body[] = {"+ACK", "-NAK", "+TERM", "+WPI"};
    const char *reply = natsMsg_GetReply(m);
    if (reply == NULL || reply[0] == '\0') return NATS_INVALID_ARG;
    return natsConnection_PublishString(nc, reply, body[kind]);
}

static void request(mf_jspull *p, int64_t now, int batch, int expires_ms) {
    char body[96];
    int len = snprintf(body, sizeof(body), "{\"batch\":%d,\"expires\":%lld}", batch,
                       (long long)expires_ms * NS_PER_MS);
    snprintf(p->latest, sizeof(p->latest), "%s.%llu", p->inbox, (unsigned long long)++p->requests);
    if (natsConnection_PublishRequest(p->nc, p->next_subject, p->latest, body, len) != NATS_OK) {
        mf_log_ratelimited(MF_LOG_WARN, 5000, "pull request failed: %s", nats_GetLastError(NULL));
        mf_sleep_ms(100);
    }
    p->since = p->ended = 0;
    p->last_req = now;
}

/* A status message on the inbox: notes whether it ends the last request. Returns 1 when it
 * says the consumer is not there (no responders; 409 consumer deleted). */
static int on_status(mf_jspull *p, natsMsg *m, const char *status) {
    const char *desc = NULL;
    int ends = strcmp(status, "100") != 0, gone;
    natsMsgHeader_Get(m, "Description", &desc);
    gone = strcmp(status, "503") == 0 ||
           (strcmp(status, "409") == 0 && desc != NULL && strstr(desc, "Deleted") != NULL);
    if (ends && strcmp(natsMsg_GetSubject(m), p->latest) == 0) p->ended = 1;
    if (strcmp(status, "404") != 0 && strcmp(status, "408") != 0 && strcmp(status, "100") != 0)
        mf_log_ratelimited(MF_LOG_WARN, 5000, "pull status %s%s%s", status, desc ? " " : "",
                           desc ? desc : "");
    return gone;
}

/* Takes one message off the inbox within wait_ms: 1 for a consumer message (*msg), 0 for
 * none or a status, -1 when a status says the consumer is not there. */
static int take(mf_jspull *p, natsMsg **msg, int wait_ms) {
    const char *status = NULL;
    natsMsg *m = NULL;
    int gone;
    natsStatus ns = natsSubscription_NextMsg(&m, p->sub, wait_ms);
    if (ns == NATS_TIMEOUT) return 0;
    if (ns != NATS_OK) {
        mf_log_ratelimited(MF_LOG_WARN, 5000, "pull inbox: %s", natsStatus_GetText(ns));
        mf_sleep_ms(100);
        return 0;
    }
    /* Status messages come on our inbox; the consumer's messages on their stream subject. */
    if (strncmp(natsMsg_GetSubject(m), p->inbox, p->inbox_len) == 0 &&
        natsMsgHeader_Get(m, "Status", &status) == NATS_OK && status != NULL) {
        gone = on_status(p, m, status);
        natsMsg_Destroy(m);
        return gone ? -1 : 0;
    }
    *msg = m;
    return 1;
}

mf_status mf_jspull_fetch(mf_jspull *p, natsMsg **msgs, int max, int timeout_ms, int *count) {
    int64_t end = mf_mono_ms() + timeout_ms + 100;
    int n = 0, r = 0;
    if (max <= 0 || timeout_ms <= 0) return MF_ERR_INVALID_ARG;
    request(p, mf_mono_ms(), max, timeout_ms);
    while (n < max && !p->ended) {
        int64_t left = end - mf_mono_ms();
        if (left <= 0) break;
        r = take(p, &msgs[n], (int)left);
        if (r < 0) break;
        n += r;
    }
    *count = n;
    if (n > 0) return MF_OK;
    return r < 0 ? MF_ERR_NOT_FOUND : MF_ERR_TIMEOUT;
}

mf_status mf_jspull_next(mf_jspull *p, natsMsg **msg, int wait_ms) {
    if (!p->stopped) {
        int64_t now = mf_mono_ms();
        if (p->ended || p->since >= p->batch / 2 || now - p->last_req >= p->expires_ms)
            request(p, now, p->batch, p->expires_ms);
    }
    if (take(p, msg, wait_ms) <= 0) return MF_ERR_TIMEOUT;
    p->since++;
    return MF_OK;
}
