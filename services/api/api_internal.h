/* api_internal.h: the state of marketflow-api and the functions its files share. api.c owns
 * the lifecycle (start, status, stop); each other file one concern:
 *   api_http.c    listening socket, libmicrohttpd/ulfius setup, JSON responses
 *   api_routes.c  the routing table: one request to its handler
 *   api_mode.c    GET/POST /mode and the cached mode (mf/control.h)
 *   api_health.c  GET /health
 *   api_bus.c     the core subscriptions (latest, status, control.mode)
 * Only for these files; tests use the pure modules (router, engine, health, ...). */
#ifndef API_INTERNAL_H
#define API_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <ulfius.h>

#include "api.h"
#include "cache.h"
#include "engine.h"
#include "health.h"
#include "latest_map.h"
#include "mf/control.h"
#include "router.h"
#include "store.h"

#define API_HTTP_THREADS 4

/* The mode as the api last saw it. `mu` is held across the POST read-decide-publish so that
 * concurrent POSTs answer consistently; the control.mode handler takes it too. */
typedef struct api_mode_state {
    pthread_mutex_t mu;
    mf_mode mode, previous;     /* guarded by mu */
    int64_t at;                 /* guarded by mu; 0 = unknown */
    char by[MF_CONTROL_BY_MAX]; /* guarded by mu; "" = unknown */
} api_mode_state;

struct api_service {
    mf_app *app;
    const mf_config *cfg;
    struct _u_instance http;
    int http_started;
    int stopped; /* api_service_stop ran */
    int listen_fd;
    api_store *redis, *pg;
    api_latest_map *latest;
    api_health *health;
    api_engine engine;
    api_cache *cache;
    natsSubscription *sub_latest, *sub_status, *sub_mode;
    pthread_t refresher;
    int refresher_started;
    atomic_int stop;
    api_mode_state mode;
    atomic_llong *requests, *r2xx, *r4xx, *r5xx, *bad_bus;
};

/* ---- api_http.c ---- */
/* Starts the HTTP server on s->listen_fd; every request goes to api__dispatch. */
mf_status api__http_start(api_service *s);
/* Stops the server (waits for running handlers) and closes the socket. Idempotent. */
void api__http_stop(api_service *s);
/* Sets `body` (takes ownership) as the JSON response. Returns U_CALLBACK_COMPLETE. */
int api__send_json(struct _u_response *resp, int status, json_t *body);
/* {"error": msg} with `status`. Returns U_CALLBACK_COMPLETE. */
int api__send_error(struct _u_response *resp, int status, const char *msg);

/* ---- api_routes.c ---- */
/* Answers one request (any method and path). Returns U_CALLBACK_COMPLETE. */
int api__dispatch(api_service *s, const struct _u_request *req, struct _u_response *resp);

/* ---- api_mode.c ---- */
/* Initialises s->mode: exchanges.mode, then the stored message when there is one. */
void api__mode_init(api_service *s);
void api__mode_cleanup(api_service *s);
/* A message on <prefix>.control.mode (borrowed). -1 when mf_control_decode rejects it. */
int api__mode_on_msg(api_service *s, const char *data, size_t len);
/* The current mode (locks briefly). */
mf_mode api__mode_current(api_service *s);
int api__mode_get(api_service *s, struct _u_response *resp);
int api__mode_set(api_service *s,
                  const struct _u_request *req,
                  struct _u_response *resp,
                  const api_route *rt);

/* ---- api_health.c ---- */
int api__health(api_service *s, struct _u_response *resp);

/* ---- api_bus.c ---- */
/* Subscribes <prefix>.latest.>, <prefix>.status.> and <prefix>.control.mode. */
mf_status api__bus_subscribe(api_service *s);
/* Unsubscribes and frees the subscriptions made (any subset). */
void api__bus_unsubscribe(api_service *s);

#endif
