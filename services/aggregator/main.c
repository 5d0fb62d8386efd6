/* main.c: marketflow-aggregator: wiring only (see aggregator.c). */
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
    int rc = mf_app_init(&app, "aggregator", argc, argv, usage, NULL, NULL);
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
