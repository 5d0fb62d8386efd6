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

/* The service verbs (mf_service_ops). `arg` is the listening socket, bound before anything
 * else; the service takes it over. */
static mf_status svc_create(void **svc, mf_app *app, void *arg) {
    int *fd = arg;
    mf_status s = api_service_create((api_service **)svc, app, *fd);
    *fd = -1; /* owned (and closed on failure) by the service */
    return s;
}

static int svc_poll(void *svc) {
    (void)svc;
    mf_wait_stop(1000);
    return 0;
}

static void svc_stop(void *svc) {
    api_service_stop(svc);
}

static void svc_destroy(void *svc) {
    api_service_destroy(svc);
}

static const mf_service_ops service = {
    .needs_nats = 1,
    .create = svc_create,
    .poll = svc_poll,
    .status_fill = api_service_status,
    .stop = svc_stop,
    .destroy = svc_destroy,
};

int main(int argc, char **argv) {
    mf_app app;
    int fd, rc;
    mf_config pre;
    mf_cli_result r = mf_config_cli(&pre, argc, argv, USAGE, flags, NULL);
    if (r != MF_CLI_RUN) return r == MF_CLI_EXIT_OK ? 0 : 2;
    /* Bind before anything logs, so a port in use is reported as exactly one line. */
    fd = api_listen_open(&pre);
    if (fd < 0) return 1;
    rc = mf_app_init(&app, "api", argc, argv, USAGE, flags, NULL);
    if (rc < 0) rc = mf_app_run(&app, &service, &fd);
    if (fd >= 0) close(fd); /* the service never took it */
    return rc;
}
