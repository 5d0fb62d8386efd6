/* main.c: marketflow-persister wiring: --sink postgres|redis, config, NATS, core, heartbeat. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core.h"
#include "mf/app.h"
#include "mf/log.h"
#include "mf/signals.h"
#include "mf/util.h"
#include "sink_pg.h"
#include "sink_redis.h"

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

/* The service verbs (mf_service_ops): a sink adapter and the core in front of it. */
typedef struct pers_service {
    pers_sink *sink;
    pers_core *core;
} pers_service;

static void svc_destroy(void *svc) {
    pers_service *p = svc;
    if (p == NULL) return;
    pers_core_destroy(p->core);
    pers_sink_destroy(p->sink);
    free(p);
}

static mf_status svc_create(void **svc, mf_app *app, void *arg) {
    const opts *o = arg;
    pers_service *p = mf_xcalloc(1, sizeof(*p));
    *svc = p;
    if (strcmp(o->sink, "postgres") == 0)
        pers_sink_pg_create(&p->sink, &app->cfg, o->migrations);
    else
        pers_sink_redis_create(&p->sink, &app->cfg);
    if (pers_core_create(&p->core, app->nats, &app->cfg, p->sink) != MF_OK) {
        mf_log(MF_LOG_ERROR, "prefix too long for subjects and consumer names");
        return MF_ERR_CONFIG;
    }
    mf_log(MF_LOG_INFO, "running sink=%s batch_rows=%d flush_ms=%d", p->sink->ops->name,
           app->cfg.persister.batch_rows, app->cfg.persister.flush_ms);
    return MF_OK;
}

static int svc_poll(void *svc) {
    return pers_core_poll(((pers_service *)svc)->core);
}

static void svc_stop(void *svc) {
    pers_core_stop(((pers_service *)svc)->core);
}

static void svc_status(json_t *status, void *svc) {
    pers_core_fill_status(status, ((pers_service *)svc)->core);
}

static const mf_service_ops service = {
    .needs_nats = 1,
    .create = svc_create,
    .poll = svc_poll,
    .status_fill = svc_status,
    .stop = svc_stop,
    .destroy = svc_destroy,
};

int main(int argc, char **argv) {
    opts o = {{0}, {0}};
    mf_app app;
    int rc = mf_app_init(&app, "persister", argc, argv,
                         "marketflow-persister --sink postgres|redis [--config FILE]", flags, &o);
    if (rc >= 0) return rc;
    if (o.sink[0] == '\0') {
        fprintf(stderr, "marketflow-persister: --sink postgres|redis is required\n");
        return 2;
    }
    if (strcmp(o.sink, "postgres") == 0) {
        if (pick_migrations(&o) != 0) return 2;
        mf_log(MF_LOG_INFO, "sink postgres migrations=%s", o.migrations);
    }
    if (app.cfg.nats.transport != MF_TRANSPORT_JETSTREAM)
        mf_log(MF_LOG_WARN, "nats.transport=core: the persister reads JetStream anyway");
    app.cfg.nats.transport = MF_TRANSPORT_JETSTREAM; /* the durable consumer needs it */
    /* Not MARKETFLOW_TICKS: in transport=core it would make nats-server store every tick. */
    app.streams = MF_APP_STREAM(MF_STREAM_ROLLUPS) | MF_APP_STREAM(MF_STREAM_CONTROL);
    return mf_app_run(&app, &service, &o);
}
