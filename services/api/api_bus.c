/* api_bus.c: the api's core subscriptions. nats.c runs each handler on the subscription's
 * own delivery thread: <prefix>.latest.> feeds the latest map, <prefix>.status.> the health
 * tracker, <prefix>.control.mode the cached mode (api_mode.c). Each handler decodes, stores
 * under the structure's own lock and destroys the message; undecodable messages are counted
 * (api_bad_bus_messages_total) and logged rate-limited. */
#include "api_internal.h"
#include "mf/log.h"
#include "mf/subject.h"
#include "mf/util.h"

static void bad(api_service *s, const char *what, natsMsg *msg) {
    atomic_fetch_add(s->bad_bus, 1);
    mf_log_ratelimited(MF_LOG_WARN, 10000, "bad %s message subject=%s", what,
                       natsMsg_GetSubject(msg));
}

static void on_latest(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *ctx) {
    api_service *s = ctx;
    (void)nc, (void)sub;
    if (api_latest_map_put_json(s->latest, natsMsg_GetData(msg),
                                (size_t)natsMsg_GetDataLength(msg)) != MF_OK)
        bad(s, "latest", msg);
    natsMsg_Destroy(msg);
}

static void on_status(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *ctx) {
    api_service *s = ctx;
    (void)nc, (void)sub;
    if (api_health_put(s->health, natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg),
                       mf_mono_ms()) != 0)
        bad(s, "status", msg);
    natsMsg_Destroy(msg);
}

static void on_mode(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *ctx) {
    api_service *s = ctx;
    (void)nc, (void)sub;
    if (api__mode_on_msg(s, natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg)) != 0)
        bad(s, "mode", msg);
    natsMsg_Destroy(msg);
}

static mf_status
subscribe(api_service *s, natsSubscription **sub, const char *subject, natsMsgHandler cb) {
    natsStatus ns = natsConnection_Subscribe(sub, mf_nats_conn(s->app->nats), subject, cb, s);
    if (ns == NATS_OK) ns = natsSubscription_SetPendingLimits(*sub, 1000000, 256 * 1024 * 1024);
    return ns == NATS_OK ? MF_OK : mf_nats_fail(ns, "subscribe");
}

mf_status api__bus_subscribe(api_service *s) {
    const char *prefix = mf_nats_prefix(s->app->nats);
    char latest[MF_SUBJECT_MAX], status[MF_SUBJECT_MAX], mode[MF_SUBJECT_MAX];
    mf_status st;
    if (mf_subject_all(latest, sizeof(latest), prefix, MF_SUBJECT_LATEST) < 0 ||
        mf_subject_all(status, sizeof(status), prefix, MF_SUBJECT_STATUS) < 0 ||
        mf_subject_control_mode(mode, sizeof(mode), prefix) < 0)
        return MF_ERR_CONFIG;
    st = subscribe(s, &s->sub_latest, latest, on_latest);
    if (st == MF_OK) st = subscribe(s, &s->sub_status, status, on_status);
    if (st == MF_OK) st = subscribe(s, &s->sub_mode, mode, on_mode);
    return st;
}

void api__bus_unsubscribe(api_service *s) {
    natsSubscription **subs[] = {&s->sub_latest, &s->sub_status, &s->sub_mode};
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        natsSubscription_Unsubscribe(*subs[i]);
        natsSubscription_Destroy(*subs[i]);
        *subs[i] = NULL;
    }
}
