/* api.h: the marketflow-api service: HTTP server (ulfius on libmicrohttpd), bus
 * subscriptions, mode control and health. main.c only wires it. */
#ifndef API_API_H
#define API_API_H

#include "mf/app.h"
#include "mf/status.h"

typedef struct api_service api_service;

/* Binds and listens on api.bind:api.port (before NATS, so a port in use fails fast).
 * Returns the socket, or -1 after printing one line ("cannot listen on ...: Address already
 * in use"). */
int api_listen_open(const mf_config *cfg);
/* Creates stores, subscriptions and the known-exchange refresher, then serves HTTP on
 * listen_fd (takes ownership). */
mf_status api_service_create(api_service **out, mf_app *app, int listen_fd);
/* Stops HTTP first, then the subscriptions and the refresher. The stores stay, so the last
 * heartbeat can still read them. Idempotent; accepts NULL. */
void api_service_stop(api_service *s);
/* Stops (when not yet stopped) and frees. Accepts NULL. */
void api_service_destroy(api_service *s);
/* Heartbeat fill: mode and store state (valid until api_service_destroy). */
void api_service_status(json_t *status, void *ctx);

/* The OpenAPI document embedded at build time (docs/openapi.json). */
extern const unsigned char api_openapi_json[];
extern const size_t api_openapi_json_len;

#endif
