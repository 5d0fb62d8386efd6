/* api_mode.c: GET /mode, POST /mode/<live|test> and the mode the api reports.
 *
 * The mode lives on the bus (<prefix>.control.mode, kept by the CONTROL stream; mf/control.h
 * encodes, decodes and reads it). The api caches what it last saw: the stored message at
 * start (in both transports, as the collector), then every message of its subscription.
 * POST reads the stored mode, and publishes only when it differs (or none is stored), all
 * under the mode lock, so concurrent POSTs agree on "changed". */
#include <stdio.h>
#include <string.h>

#include "api_internal.h"
#include "mf/log.h"
#include "mf/subject.h"
#include "mf/util.h"

static void set_locked(api_mode_state *ms, const mf_control_msg *m) {
    if (m->mode != ms->mode) ms->previous = ms->mode;
    ms->mode = m->mode;
    ms->at = m->at;
    snprintf(ms->by, sizeof(ms->by), "%s", m->by);
}

void api__mode_init(api_service *s) {
    api_mode_state *ms = &s->mode;
    mf_control_msg m;
    mf_status st;
    pthread_mutex_init(&ms->mu, NULL);
    ms->mode = ms->previous = s->cfg->exchanges.mode;
    st = mf_control_read_stored(s->app->nats, &m);
    if (st == MF_OK)
        set_locked(ms, &m);
    else
        mf_log(MF_LOG_INFO, "mode: no stored mode (%s); using exchanges.mode=%s", mf_status_str(st),
               mf_mode_str(ms->mode));
    ms->previous = ms->mode;
}

void api__mode_cleanup(api_service *s) {
    pthread_mutex_destroy(&s->mode.mu);
}

int api__mode_on_msg(api_service *s, const char *data, size_t len) {
    mf_control_msg m;
    if (mf_control_decode(data, len, &m) != MF_OK) return -1;
    pthread_mutex_lock(&s->mode.mu);
    set_locked(&s->mode, &m);
    pthread_mutex_unlock(&s->mode.mu);
    return 0;
}

mf_mode api__mode_current(api_service *s) {
    mf_mode m;
    pthread_mutex_lock(&s->mode.mu);
    m = s->mode.mode;
    pthread_mutex_unlock(&s->mode.mu);
    return m;
}

static mf_status publish(api_service *s, mf_mode mode, int64_t at) {
    mf_control_msg m = {.mode = mode, .at = at};
    char subject[MF_SUBJECT_MAX], body[256];
    mf_nats *n = s->app->nats;
    natsStatus ns;
    int len;
    snprintf(m.by, sizeof(m.by), "api/%s", s->app->instance);
    if (mf_subject_control_mode(subject, sizeof(subject), mf_nats_prefix(n)) < 0 ||
        (len = mf_control_encode(&m, body, sizeof(body))) < 0)
        return MF_ERR_CONFIG;
    if (mf_nats_js(n)) {
        jsErrCode jerr = 0;
        jsPubAck *pa = NULL;
        ns = js_Publish(&pa, mf_nats_js(n), subject, body, len, NULL, &jerr);
        jsPubAck_Destroy(pa);
    } else {
        ns = natsConnection_Publish(mf_nats_conn(n), subject, body, len);
        if (ns == NATS_OK) ns = natsConnection_FlushTimeout(mf_nats_conn(n), 2000);
    }
    return ns == NATS_OK ? MF_OK : mf_nats_fail(ns, "publish mode");
}

static json_t *mode_json(mf_mode m, mf_mode prev, int changed) {
    return json_pack("{s:s, s:s, s:b}", "mode", mf_mode_str(m), "previous", mf_mode_str(prev),
                     "changed", changed);
}

static int token_ok(const char *want, const char *auth) {
    size_t n = strlen(want), diff = 0;
    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) return 0;
    auth += 7;
    if (strlen(auth) != n) return 0;
    for (size_t i = 0; i < n; i++) diff |= (size_t)(want[i] ^ auth[i]); /* constant time */
    return diff == 0;
}

int api__mode_set(api_service *s,
                  const struct _u_request *req,
                  struct _u_response *resp,
                  const api_route *rt) {
    api_mode_state *ms = &s->mode;
    mf_control_msg stored;
    mf_mode want, cur;
    int kept, changed;
    if (s->cfg->api.mode_token[0] &&
        !token_ok(s->cfg->api.mode_token, u_map_get_case(req->map_header, "Authorization"))) {
        u_map_put(resp->map_header, "WWW-Authenticate", "Bearer realm=\"marketflow\"");
        return api__send_error(resp, 401,
                               "POST /mode needs 'Authorization: Bearer <api.mode_token>'");
    }
    mf_mode_parse(rt->mode, &want);
    pthread_mutex_lock(&ms->mu);
    kept = mf_control_read_stored(s->app->nats, &stored) == MF_OK;
    cur = kept ? stored.mode : ms->mode;
    changed = cur != want;
    if ((changed || !kept) && publish(s, want, mf_now_ms()) != MF_OK) {
        pthread_mutex_unlock(&ms->mu);
        return api__send_error(resp, 503, "could not publish the mode on NATS; retry later");
    }
    if (changed || !kept) {
        mf_control_msg now = {.mode = want, .at = mf_now_ms(), .by = "api"};
        set_locked(ms, &now);
    }
    pthread_mutex_unlock(&ms->mu);
    if (changed)
        mf_log(MF_LOG_INFO, "mode switched mode=%s previous=%s", rt->mode, mf_mode_str(cur));
    return api__send_json(resp, 200, mode_json(want, cur, changed));
}

int api__mode_get(api_service *s, struct _u_response *resp) {
    api_mode_state *ms = &s->mode;
    json_t *o;
    pthread_mutex_lock(&ms->mu);
    o = mode_json(ms->mode, ms->previous, 0);
    if (ms->at) json_object_set_new(o, "at", json_integer(ms->at));
    if (ms->by[0]) json_object_set_new(o, "by", json_string(ms->by));
    pthread_mutex_unlock(&ms->mu);
    return api__send_json(resp, 200, o);
}
