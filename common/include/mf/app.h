/* app.h: the start and stop sequence every service main shares.
 *
 *   mf_app app;
 *   int rc = mf_app_init(&app, "aggregator", argc, argv, usage, flags, ctx);
 *   if (rc >= 0) return rc;                  // --help, --check-config or a bad flag
 *   return mf_app_run(&app, &ops, arg);      // the service lifecycle, below
 *
 * mf_app_run is built on the steps, which stay public for tools that wire their own:
 *   mf_app_connect(&app)                     // NATS with retry, streams ensured
 *   mf_app_heartbeat(&app, fill, ctx)        // status every 2 s
 *   mf_app_shutdown(&app)                    // final status, drain, close
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

/* The lifecycle every service has: the same verbs, in the same order, so every main() is the
 * same checklist (mf_app_init, then mf_app_run).
 *
 *   create       makes the service from app (NATS is connected first when needs_nats);
 *                on failure it may leave a partial object in *svc for destroy
 *   poll         one turn of the main loop; waits on its own (mf_wait_stop, a fetch) at most
 *                about a second; returns 1 when the service is done by itself, else 0
 *   status_fill  the service's part of the heartbeat (optional); may still be called after
 *                stop, so stop must leave what it reads alive
 *   stop         stops intake and flushes (partial windows, batches, PubAcks); only
 *                called after a successful create
 *   destroy      frees; accepts NULL
 *
 * mf_app_run: [connect] -> create -> [heartbeat] -> poll until a stop or done -> stop ->
 * mf_app_shutdown (the last status still reads the service) -> destroy. It returns the exit
 * code: 0 after a stop (also one that came before the service was up), 2 when create said
 * MF_ERR_CONFIG, else 1. */
typedef struct mf_service_ops {
    int needs_nats; /* 0: the generator (no bus; /healthz is ready once created) */
    mf_status (*create)(void **svc, mf_app *app, void *arg);
    int (*poll)(void *svc);
    mf_heartbeat_fill status_fill;
    void (*stop)(void *svc);
    void (*destroy)(void *svc);
} mf_service_ops;

int mf_app_run(mf_app *app, const mf_service_ops *ops, void *arg);

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
