/* app.h: the start and stop sequence every service main shares.
 *
 *   mf_app app;
 *   int rc = mf_app_init(&app, "aggregator", argc, argv, usage, flags, ctx);
 *   if (rc >= 0) return rc;                  // --help, --check-config or a bad flag
 *   if (mf_app_connect(&app) != MF_OK) ...   // NATS with retry, streams ensured
 *   mf_app_heartbeat(&app, fill, ctx);       // status every 2 s
 *   ... run until mf_stop_requested() ...
 *   mf_app_shutdown(&app);                   // final status, drain, close
 *
 * mf_app_init does: config (defaults < file < env < flags), logging, signal handlers, the
 * metrics endpoint when metrics.port > 0 (ready = NATS connected). */
#ifndef MF_APP_H
#define MF_APP_H

#include <jansson.h>
#include <stdatomic.h>

#include "mf/config.h"
#include "mf/nats_util.h"
#include "mf/status.h"

typedef struct mf_heartbeat mf_heartbeat;

/* Fills service-specific fields into `status` (an object it may add to). Called every
 * interval on the heartbeat thread; must not block. */
typedef void (*mf_heartbeat_fill)(json_t *status, void *ctx);

typedef struct mf_app {
    mf_config cfg;
    char service[32];
    char instance[64];
    int64_t started_ms;
    mf_nats *nats;    /* after mf_app_connect */
    mf_heartbeat *hb; /* after mf_app_heartbeat */
    /* Set by a service that never connects NATS (the generator) once it is ready: /healthz
     * then answers 200 without NATS. Written once from main; read by the metrics thread. */
    atomic_int ready_without_nats;
    /* The streams mf_app_connect ensures in jetstream transport, a mask of MF_APP_STREAM(s);
     * mf_app_init sets all three. A service that only reads some of them (the persister)
     * narrows it first, so that it never creates MARKETFLOW_TICKS: with that stream in place
     * nats-server stores every tick even when the pipeline runs on transport=core. */
    unsigned streams;
} mf_app;

#define MF_APP_STREAM(s) (1u << (s))
#define MF_APP_STREAMS_ALL                                               \
    (MF_APP_STREAM(MF_STREAM_TICKS) | MF_APP_STREAM(MF_STREAM_ROLLUPS) | \
     MF_APP_STREAM(MF_STREAM_CONTROL))

/* Returns -1 when the service should run, else the exit code (0 help, 2 bad config). */
int mf_app_init(mf_app *app,
                const char *service,
                int argc,
                char **argv,
                const char *usage,
                const mf_cli_flag *flags,
                void *ctx);
/* Connects NATS (retrying until stop) and, in jetstream transport, ensures the streams of
 * app->streams. MF_ERR_CLOSED when a stop came first. */
mf_status mf_app_connect(mf_app *app);
/* Starts publishing <prefix>.status.<service>.<instance> every 2 s. */
mf_status mf_app_heartbeat(mf_app *app, mf_heartbeat_fill fill, void *ctx);
/* Stops the heartbeat (one last status with "state":"stopped"), drains and closes NATS,
 * stops metrics. Idempotent. */
void mf_app_shutdown(mf_app *app);

/* The heartbeat alone, for services wiring their own main. */
mf_status mf_heartbeat_start(mf_heartbeat **out,
                             mf_nats *n,
                             const char *service,
                             const char *instance,
                             int interval_ms,
                             mf_heartbeat_fill fill,
                             void *ctx);
/* Publishes a final status with "state":"stopped" and joins the thread. Accepts NULL. */
void mf_heartbeat_stop(mf_heartbeat *hb);

#endif
