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

#define USAGE "marketflow-api [--port <N>] [--config <file>]"

static const mf_cli_flag flags[] = {
    {"--port", "N", "HTTP port (overrides api.port)", flag_port},
    {NULL, NULL, NULL, NULL},
};

int main(int argc, char **argv) {
    mf_app app;
    api_service *svc = NULL;
    int fd;
    mf_config pre;
    mf_cli_result r = mf_config_cli(&pre, argc, argv, USAGE, flags, NULL);
    int rc;
    if (r != MF_CLI_RUN) return r == MF_CLI_EXIT_OK ? 0 : 2;
    /* Bind before anything logs, so a port in use is reported as exactly one line. */
    fd = api_listen_open(&pre);
    if (fd < 0) return 1;
    rc = mf_app_init(&app, "api", argc, argv, USAGE, flags, NULL);
    if (rc >= 0) {
        close(fd);
        return rc;
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
    /* The last heartbeat ("stopped") calls the service's fill: stop it before the service. */
    mf_heartbeat_stop(app.hb);
    app.hb = NULL;
    api_service_stop(svc);
    mf_app_shutdown(&app);
    return 0;
}
