/* main.c: marketflow-api wiring: config and flags, NATS, the service, run until a signal. */
#include <stdio.h>
#include <unistd.h>

#include "api.h"
#include "mf/app.h"
#include "mf/log.h"
#include "mf/signals.h"

static int flag_port(mf_config *cfg, void *ctx, const char *value, char *err, size_t errlen) {
    (void)ctx;
    return mf_config_set(cfg, "api", "port", value, "from --port", err, errlen) == MF_OK ? 0 : -1;
}

static const mf_cli_flag flags[] = {
    {"--port", "N", "HTTP port (overrides api.port)", flag_port},
    {NULL, NULL, NULL, NULL},
};

int main(int argc, char **argv) {
    mf_app app;
    api_service *svc = NULL;
    int fd;
    int rc = mf_app_init(&app, "api", argc, argv, "marketflow-api [--port <N>] [--config <file>]",
                         flags, NULL);
    if (rc >= 0) return rc;
    fd = api_listen_open(&app.cfg);
    if (fd < 0) {
        mf_app_shutdown(&app);
        return 1;
    }
    if (mf_app_connect(&app) != MF_OK) {
        close(fd);
        mf_app_shutdown(&app);
        return mf_stop_requested() ? 0 : 1;
    }
    if (api_service_start(&svc, &app, fd) != MF_OK) {
        mf_app_shutdown(&app);
        return 1;
    }
    mf_app_heartbeat(&app, api_service_status, svc);
    while (!mf_stop_requested()) mf_wait_stop(1000);
    mf_log(MF_LOG_INFO, "shutdown requested");
    api_service_stop(svc);
    mf_app_shutdown(&app);
    return 0;
}
