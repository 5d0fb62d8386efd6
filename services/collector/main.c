/* main.c: marketflow-collector wiring: config, NATS, publisher, collector, control, heartbeat.
 * The logic lives in collector.c (feeds, readers, workers), publisher.c and control.c. */
#include <stdio.h>
#include <stdlib.h>

#include "collector.h"
#include "control.h"
#include "mf/app.h"
#include "mf/log.h"
#include "mf/signals.h"
#include "mf/util.h"
#include "publisher.h"

static const char usage[] =
    "marketflow-collector [--config <file>] [--set section.key=value]... [--check-config]\n"
    "Reads the exchange feeds of the current mode (exchanges.live / exchanges.test), follows\n"
    "<prefix>.control.mode, and publishes ticks on <prefix>.ticks.<exchange>.<symbol>.";

typedef struct coll_app {
    collector *c;
    coll_pub *pub;
    coll_control *ctl;
} coll_app;

static void fill_status(json_t *status, void *ctx) {
    coll_app *a = ctx;
    coll_status_fill(status, a->c);
    coll_pub_status_fill(status, a->pub);
    if (a->ctl != NULL) coll_control_status_fill(status, a->ctl);
}

/* The service verbs (mf_service_ops): the publisher, the collector core and the mode
 * control make one service. */
static void svc_destroy(void *svc) {
    coll_app *a = svc;
    if (a == NULL) return;
    coll_control_destroy(a->ctl);
    coll_destroy(a->c);
    coll_pub_destroy(a->pub);
    free(a);
}

static mf_status svc_create(void **svc, mf_app *app, void *arg) {
    coll_app *a = mf_xcalloc(1, sizeof(*a));
    coll_sink sink = {.publish = coll_pub_tick, .publish_many = coll_pub_ticks};
    mf_status s;
    (void)arg;
    *svc = a;
    s = coll_pub_create(&a->pub, app->nats, &app->cfg);
    sink.ctx = a->pub;
    if (s == MF_OK) s = coll_create(&a->c, &app->cfg, NULL, sink);
    if (s == MF_OK) s = coll_control_create(&a->ctl, app->nats, app->cfg.exchanges.mode);
    if (s == MF_OK)
        mf_log(MF_LOG_INFO, "running workers_per_feed=%d max_line=%d max_inflight=%d buffer=%d",
               app->cfg.collector.workers_per_feed, app->cfg.collector.max_line,
               app->cfg.collector.max_inflight, app->cfg.collector.buffer);
    return s;
}

/* Follows the mode: the control's newest decision switches the feeds. */
static int svc_poll(void *svc) {
    coll_app *a = svc;
    mf_mode m;
    if (coll_control_take(a->ctl, &m)) coll_set_mode(a->c, m);
    mf_wait_stop(50);
    return 0;
}

static void svc_stop(void *svc) {
    coll_app *a = svc;
    coll_stop(a->c);              /* readers stop, workers drain into the publisher */
    coll_pub_flush(a->pub, 3000); /* held ticks and outstanding PubAcks */
}

static const mf_service_ops service = {
    .needs_nats = 1,
    .create = svc_create,
    .poll = svc_poll,
    .status_fill = fill_status,
    .stop = svc_stop,
    .destroy = svc_destroy,
};

int main(int argc, char **argv) {
    mf_app app;
    int rc = mf_app_init(&app, "collector", argc, argv, usage, NULL, NULL);
    if (rc >= 0) return rc;
    return mf_app_run(&app, &service, NULL);
}
