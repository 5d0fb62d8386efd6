/* main.c: marketflow-persister wiring: --sink postgres|redis, config, NATS, core, heartbeat. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core.h"
#include "mf/app.h"
#include "mf/log.h"
#include "mf/signals.h"
#include "pg_sink.h"
#include "redis_sink.h"

#ifndef PERS_MIGRATIONS_SRC
#define PERS_MIGRATIONS_SRC ""
#endif
#ifndef PERS_MIGRATIONS_INSTALLED
#define PERS_MIGRATIONS_INSTALLED "/usr/share/marketflow/migrations"
#endif

typedef struct opts {
    char sink[16];
    char migrations[1024];
} opts;

static int flag_sink(mf_config *cfg, void *ctx, const char *value, char *err, size_t errlen) {
    opts *o = ctx;
    (void)cfg;
    if (value == NULL || (strcmp(value, "postgres") != 0 && strcmp(value, "redis") != 0)) {
        snprintf(err, errlen, "--sink: '%s' is not one of postgres, redis", value ? value : "");
        return -1;
    }
    snprintf(o->sink, sizeof(o->sink), "%s", value);
    return 0;
}

static int flag_migrations(mf_config *cfg, void *ctx, const char *value, char *err, size_t errlen) {
    opts *o = ctx;
    struct stat st;
    (void)cfg;
    if (value == NULL || stat(value, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "--migrations: '%s' is not a directory", value ? value : "");
        return -1;
    }
    snprintf(o->migrations, sizeof(o->migrations), "%s", value);
    return 0;
}

static const mf_cli_flag flags[] = {
    {"--sink", "postgres|redis", "the sink this process feeds (required)", flag_sink},
    {"--migrations", "DIR",
     "SQL migrations directory (env MARKETFLOW_PERSISTER_MIGRATIONS; default: the source "
     "tree's sql/migrations, else " PERS_MIGRATIONS_INSTALLED ")",
     flag_migrations},
    {NULL, NULL, NULL, NULL},
};

static int is_dir(const char *p) {
    struct stat st;
    return p[0] && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* --migrations, else env, else the build's source tree, else the installed copy. */
static int pick_migrations(opts *o) {
    const char *env = getenv("MARKETFLOW_PERSISTER_MIGRATIONS");
    const char *cands[] = {PERS_MIGRATIONS_SRC, PERS_MIGRATIONS_INSTALLED,
                           "/usr/share/marketflow/migrations"};
    if (o->migrations[0]) return 0;
    if (env && env[0]) {
        if (!is_dir(env)) {
            fprintf(stderr,
                    "marketflow-persister: MARKETFLOW_PERSISTER_MIGRATIONS: '%s' is not "
                    "a directory\n",
                    env);
            return -1;
        }
        snprintf(o->migrations, sizeof(o->migrations), "%s", env);
        return 0;
    }
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
        if (is_dir(cands[i])) {
            snprintf(o->migrations, sizeof(o->migrations), "%s", cands[i]);
            return 0;
        }
    }
    fprintf(stderr, "marketflow-persister: no migrations directory found (use --migrations)\n");
    return -1;
}

int main(int argc, char **argv) {
    opts o = {{0}, {0}};
    mf_app app;
    pers_sink *sink = NULL;
    pers_core *core = NULL;
    int rc = mf_app_init(&app, "persister", argc, argv,
                         "marketflow-persister --sink postgres|redis [--config FILE]", flags, &o);
    if (rc >= 0) return rc;
    if (o.sink[0] == '\0') {
        fprintf(stderr, "marketflow-persister: --sink postgres|redis is required\n");
        return 2;
    }
    if (strcmp(o.sink, "postgres") == 0) {
        if (pick_migrations(&o) != 0) return 2;
        pers_pg_sink_create(&sink, &app.cfg, o.migrations);
        mf_log(MF_LOG_INFO, "sink postgres migrations=%s", o.migrations);
    } else {
        pers_redis_sink_create(&sink, &app.cfg);
    }
    if (app.cfg.nats.transport != MF_TRANSPORT_JETSTREAM)
        mf_log(MF_LOG_WARN, "nats.transport=core: the persister reads JetStream anyway");
    app.cfg.nats.transport = MF_TRANSPORT_JETSTREAM; /* the durable consumer needs it */
    /* Not MARKETFLOW_TICKS: in transport=core it would make nats-server store every tick. */
    app.streams = MF_APP_STREAM(MF_STREAM_ROLLUPS) | MF_APP_STREAM(MF_STREAM_CONTROL);
    if (mf_app_connect(&app) != MF_OK) {
        sink->destroy(sink->impl);
        free(sink);
        mf_app_shutdown(&app);
        return mf_stop_requested() ? 0 : 1;
    }
    if (pers_core_create(&core, app.nats, &app.cfg, sink) != MF_OK) {
        mf_log(MF_LOG_ERROR, "prefix too long for subjects and consumer names");
        mf_app_shutdown(&app);
        return 2;
    }
    mf_app_heartbeat(&app, pers_core_fill_status, core);
    mf_log(MF_LOG_INFO, "running sink=%s batch_rows=%d flush_ms=%d", sink->name,
           app.cfg.persister.batch_rows, app.cfg.persister.flush_ms);
    pers_core_run(core); /* until SIGINT/SIGTERM */
    mf_log(MF_LOG_INFO, "shutdown requested");
    mf_app_shutdown(&app); /* final status, drain NATS */
    pers_core_destroy(core);
    sink->destroy(sink->impl);
    free(sink);
    return 0;
}
