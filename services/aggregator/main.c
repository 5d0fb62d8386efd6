/* main.c: marketflow-aggregator: wiring only (see aggregator.c). */
#include <malloc.h>
#include <stdlib.h>

#include "aggregator.h"
#include "mf/app.h"
#include "mf/log.h"
#include "mf/signals.h"

static const char *const usage =
    "marketflow-aggregator [--config <file>] [--set section.key=value]...\n"
    "Aggregates ticks (<prefix>.ticks.>) into 1 s and 1 min partial rollups and the conflated "
    "latest price.";

/* The service verbs (mf_service_ops) over the aggregator's own API. */
static mf_status svc_create(void **svc, mf_app *app, void *arg) {
    (void)arg;
    return aggregator_create((aggregator **)svc, &app->cfg, app->nats, app->instance);
}

static int svc_poll(void *svc) {
    if (!mf_wait_stop(500)) aggregator_poll(svc);
    return 0;
}

static void svc_stop(void *svc) {
    aggregator_stop(svc);
}

static void svc_destroy(void *svc) {
    aggregator_destroy(svc);
}

static const mf_service_ops service = {
    .needs_nats = 1,
    .create = svc_create,
    .poll = svc_poll,
    .status_fill = aggregator_status_fill,
    .stop = svc_stop,
    .destroy = svc_destroy,
};

int main(int argc, char **argv) {
    mf_app app;
    int rc;
    /* Memory is allocated on the intake and PubAck threads and freed on the workers (and back):
     * with glibc's default of up to 8 arenas per core each thread's arena keeps its own free
     * memory, ~15 MB more peak RSS with 30,000 keys. Two arenas (the cores we plan for) keep
     * it shared; an operator's MALLOC_ARENA_MAX or GLIBC_TUNABLES wins. */
    if (getenv("MALLOC_ARENA_MAX") == NULL && getenv("GLIBC_TUNABLES") == NULL)
        mallopt(M_ARENA_MAX, 2);
    rc = mf_app_init(&app, "aggregator", argc, argv, usage, NULL, NULL);
    if (rc >= 0) return rc;
    return mf_app_run(&app, &service, NULL);
}
