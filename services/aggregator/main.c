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

int main(int argc, char **argv) {
    mf_app app;
    aggregator *agg = NULL;
    mf_status s;
    int rc;
    /* Memory is allocated on the intake and PubAck threads and freed on the workers (and back):
     * with glibc's default of up to 8 arenas per core each thread's arena keeps its own free
     * memory, ~15 MB more peak RSS with 30,000 keys. Two arenas (the cores we plan for) keep
     * it shared; an operator's MALLOC_ARENA_MAX or GLIBC_TUNABLES wins. */
    if (getenv("MALLOC_ARENA_MAX") == NULL && getenv("GLIBC_TUNABLES") == NULL)
        mallopt(M_ARENA_MAX, 2);
    rc = mf_app_init(&app, "aggregator", argc, argv, usage, NULL, NULL);
    if (rc >= 0) return rc;
    s = mf_app_connect(&app);
    if (s == MF_OK) s = aggregator_create(&agg, &app.cfg, app.nats, app.instance);
    if (s == MF_OK) s = mf_app_heartbeat(&app, aggregator_status_fill, agg);
    if (s == MF_OK) {
        while (!mf_wait_stop(500)) aggregator_poll(agg);
        mf_log(MF_LOG_INFO, "stop requested: draining");
    }
    aggregator_stop(agg);
    mf_app_shutdown(&app); /* last status still reads agg */
    aggregator_destroy(agg);
    if (s == MF_ERR_CLOSED) return 0; /* stopped before it was up */
    return s == MF_OK ? 0 : 1;
}
