/* main.c: marketflow-collector wiring: config, NATS, publisher, collector, control, heartbeat.
 * The logic lives in collector.c (feeds, readers, workers), publisher.c and control.c. */
#include <stdio.h>

#include "collector.h"
#include "control.h"
#include "mf/app.h"
#include "mf/log.h"
#include "mf/signals.h"
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

static void run(coll_app *a) {
    mf_mode m;
    while (!mf_stop_requested()) {
        if (coll_control_take(a->ctl, &m)) coll_set_mode(a->c, m);
        mf_wait_stop(50);
    }
}

int main(int argc, char **argv) {
    mf_app app;
    coll_app a = {NULL, NULL, NULL};
    coll_sink sink;
    mf_status s;
    int rc = mf_app_init(&app, "collector", argc, argv, usage, NULL, NULL);
    if (rc >= 0) return rc;
    s = mf_app_connect(&app);
    if (s == MF_OK) s = coll_pub_create(&a.pub, app.nats, &app.cfg);
    if (s == MF_OK) {
        sink.publish = coll_pub_tick;
        sink.ctx = a.pub;
        sink.publish_many = coll_pub_ticks;
        s = coll_create(&a.c, &app.cfg, NULL, sink);
    }
    if (s == MF_OK) s = coll_control_create(&a.ctl, app.nats, app.cfg.exchanges.mode);
    if (s == MF_OK) s = mf_app_heartbeat(&app, fill_status, &a);
    if (s == MF_OK) {
        mf_log(MF_LOG_INFO, "running workers_per_feed=%d max_line=%d max_inflight=%d buffer=%d",
               app.cfg.collector.workers_per_feed, app.cfg.collector.max_line,
               app.cfg.collector.max_inflight, app.cfg.collector.buffer);
        run(&a);
        mf_log(MF_LOG_INFO, "shutdown requested: closing feeds");
    }
    coll_stop(a.c);              /* readers stop, workers drain into the publisher */
    coll_pub_flush(a.pub, 3000); /* held ticks and outstanding PubAcks */
    mf_app_shutdown(&app);       /* last status, drain, close */
    coll_control_destroy(a.ctl);
    coll_destroy(a.c);
    coll_pub_destroy(a.pub);
    if (s == MF_ERR_CLOSED) return 0; /* stopped before NATS was reached */
    return s == MF_OK ? 0 : 1;
}
