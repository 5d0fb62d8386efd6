/* health.c: status heartbeat tracker and the /health verdict. */
#include "health.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mf/util.h"

#define FORGET_MS (10 * 60 * 1000)
#define MAX_INSTANCES 256

typedef struct inst {
    char service[32];
    char instance[64];
    json_t *status; /* owned */
    int64_t recv_mono;
    int64_t interval_ms;
} inst;

struct api_health {
    pthread_mutex_t mu;
    int n;
    inst v[MAX_INSTANCES];
};

api_health *api_health_create(void) {
    api_health *h = mf_xcalloc(1, sizeof(*h));
    pthread_mutex_init(&h->mu, NULL);
    return h;
}

void api_health_destroy(api_health *h) {
    if (h == NULL) return;
    for (int i = 0; i < h->n; i++) json_decref(h->v[i].status);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

static inst *find_or_add(api_health *h, const char *svc, const char *ins, int64_t now) {
    int free_slot = -1;
    for (int i = 0; i < h->n; i++) {
        if (strcmp(h->v[i].service, svc) == 0 && strcmp(h->v[i].instance, ins) == 0)
            return &h->v[i];
        if (free_slot < 0 && now - h->v[i].recv_mono > FORGET_MS) free_slot = i;
    }
    if (free_slot < 0 && h->n < MAX_INSTANCES) free_slot = h->n++;
    if (free_slot < 0) return NULL;
    json_decref(h->v[free_slot].status);
    memset(&h->v[free_slot], 0, sizeof(inst));
    mf_strlcpy(h->v[free_slot].service, svc, sizeof(h->v[0].service));
    mf_strlcpy(h->v[free_slot].instance, ins, sizeof(h->v[0].instance));
    return &h->v[free_slot];
}

int api_health_put(api_health *h, const char *data, size_t len, int64_t now_mono) {
    json_t *o = json_loadb(data, len, 0, NULL);
    const char *svc = json_string_value(json_object_get(o, "service"));
    const char *ins = json_string_value(json_object_get(o, "instance"));
    json_int_t iv = json_integer_value(json_object_get(o, "interval_ms"));
    inst *e;
    if (!json_is_object(o) || svc == NULL || ins == NULL) {
        json_decref(o);
        return -1;
    }
    json_object_del(o, "counters"); /* large, and not for /health */
    pthread_mutex_lock(&h->mu);
    e = find_or_add(h, svc, ins, now_mono);
    if (e) {
        json_decref(e->status);
        e->status = o;
        e->recv_mono = now_mono;
        e->interval_ms = iv > 0 ? iv : 2000;
        o = NULL;
    }
    pthread_mutex_unlock(&h->mu);
    json_decref(o);
    return e ? 0 : -1;
}

static json_t *describe(const inst *e, int64_t now, int *alive) {
    json_t *o = json_deep_copy(e->status);
    const char *state = json_string_value(json_object_get(o, "state"));
    int64_t age = now - e->recv_mono;
    int ok = age <= 3 * e->interval_ms && !(state && strcmp(state, "stopped") == 0);
    json_object_del(o, "service");
    json_object_set_new(o, "alive", json_boolean(ok));
    json_object_set_new(o, "age_ms", json_integer(age));
    *alive += ok;
    return o;
}

json_t *api_health_service(api_health *h, const char *service, int64_t now_mono, int *alive) {
    json_t *arr = json_array();
    *alive = 0;
    pthread_mutex_lock(&h->mu);
    for (int i = 0; i < h->n; i++) {
        const inst *e = &h->v[i];
        if (e->status == NULL || strcmp(e->service, service) != 0) continue;
        if (now_mono - e->recv_mono > FORGET_MS) continue;
        json_array_append_new(arr, describe(e, now_mono, alive));
    }
    pthread_mutex_unlock(&h->mu);
    return arr;
}

const char *api_health_verdict(const api_health_in *in) {
    if (!in->nats_up || (!in->redis_up && !in->pg_up)) return "down";
    if (!in->redis_up || !in->pg_up) return "degraded";
    if (in->collectors == 0 || in->aggregators == 0 || in->persisters == 0) return "degraded";
    return "ok";
}
