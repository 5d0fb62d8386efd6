/* app.c: the start/stop sequence shared by every service main, and the status heartbeat.
 *
 * Threads: the heartbeat thread (publishes <prefix>.status.<service>.<instance> every
 * interval; reads metrics atomically and calls the service's fill callback). */
#include "mf/app.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mf/log.h"
#include "mf/metrics.h"
#include "mf/signals.h"
#include "mf/util.h"

struct mf_heartbeat {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    mf_nats *nats;
    char subject[256];
    char service[32];
    char instance[64];
    int interval_ms;
    int64_t started_ms;
    mf_heartbeat_fill fill;
    void *ctx;
    atomic_llong *sent;
};

static void publish_status(mf_heartbeat *hb, const char *state) {
    json_t *o = json_object();
    char *body;
    json_object_set_new(o, "service", json_string(hb->service));
    json_object_set_new(o, "instance", json_string(hb->instance));
    json_object_set_new(o, "state", json_string(state));
    json_object_set_new(o, "ts", json_integer(mf_now_ms()));
    json_object_set_new(o, "started", json_integer(hb->started_ms));
    json_object_set_new(o, "pid", json_integer(getpid()));
    json_object_set_new(o, "interval_ms", json_integer(hb->interval_ms));
    if (hb->fill) hb->fill(o, hb->ctx);
    json_object_set_new(o, "counters", mf_metrics_json());
    body = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (body == NULL) return;
    if (mf_nats_connected(hb->nats)) {
        natsConnection_Publish(mf_nats_conn(hb->nats), hb->subject, body, (int)strlen(body));
        atomic_fetch_add(hb->sent, 1);
    }
    free(body);
}

static void *heartbeat_main(void *arg) {
    mf_heartbeat *hb = arg;
    mf_thread_name("heartbeat");
    pthread_mutex_lock(&hb->mu);
    while (!hb->stop) {
        struct timespec dl;
        pthread_mutex_unlock(&hb->mu);
        publish_status(hb, "running");
        pthread_mutex_lock(&hb->mu);
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_sec += hb->interval_ms / 1000;
        dl.tv_nsec += (long)(hb->interval_ms % 1000) * 1000000;
        if (dl.tv_nsec >= 1000000000) dl.tv_sec++, dl.tv_nsec -= 1000000000;
        while (!hb->stop && pthread_cond_timedwait(&hb->cv, &hb->mu, &dl) == 0) {
        }
    }
    pthread_mutex_unlock(&hb->mu);
    return NULL;
}

mf_status mf_heartbeat_start(mf_heartbeat **out,
                             mf_nats *n,
                             const char *service,
                             const char *instance,
                             int interval_ms,
                             mf_heartbeat_fill fill,
                             void *ctx) {
    pthread_condattr_t ca;
    mf_heartbeat *hb = mf_xcalloc(1, sizeof(*hb));
    hb->nats = n;
    snprintf(hb->service, sizeof(hb->service), "%s", service);
    snprintf(hb->instance, sizeof(hb->instance), "%s", instance);
    hb->interval_ms = interval_ms > 0 ? interval_ms : 2000;
    hb->started_ms = mf_now_ms();
    hb->fill = fill;
    hb->ctx = ctx;
    hb->sent = mf_counter("status_published_total", "", "status heartbeats published");
    if (mf_nats_subject(n, hb->subject, sizeof(hb->subject), "status.%s.%s", service, instance) !=
        0) {
        free(hb);
        return MF_ERR_INVALID_ARG;
    }
    pthread_mutex_init(&hb->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&hb->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&hb->thread, NULL, heartbeat_main, hb) != 0) {
        free(hb);
        return MF_ERR;
    }
    *out = hb;
    return MF_OK;
}

void mf_heartbeat_stop(mf_heartbeat *hb) {
    if (hb == NULL) return;
    pthread_mutex_lock(&hb->mu);
    hb->stop = 1;
    pthread_cond_signal(&hb->cv);
    pthread_mutex_unlock(&hb->mu);
    pthread_join(hb->thread, NULL);
    publish_status(hb, "stopped");
    if (mf_nats_connected(hb->nats)) natsConnection_FlushTimeout(mf_nats_conn(hb->nats), 500);
    pthread_mutex_destroy(&hb->mu);
    pthread_cond_destroy(&hb->cv);
    free(hb);
}

/* Instance ids are subject tokens: host name and pid with anything else replaced. */
static void default_instance(char *out, size_t size) {
    char host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    snprintf(out, size, "%s-%d", host, (int)getpid());
    for (char *p = out; *p; p++) {
        char c = *p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            *p = '_';
    }
}

static int ready_nats(void *ctx) {
    mf_app *app = ctx;
    if (app->nats == NULL && atomic_load(&app->ready_without_nats)) return 1;
    return app->nats != NULL && mf_nats_connected(app->nats);
}

int mf_app_init(mf_app *app,
                const char *service,
                int argc,
                char **argv,
                const char *usage,
                const mf_cli_flag *flags,
                void *ctx) {
    mf_log_level lvl = MF_LOG_INFO;
    mf_cli_result r;
    memset(app, 0, sizeof(*app));
    snprintf(app->service, sizeof(app->service), "%s", service);
    app->started_ms = mf_now_ms();
    app->streams = MF_APP_STREAMS_ALL;
    r = mf_config_cli(&app->cfg, argc, argv, usage, flags, ctx);
    if (r == MF_CLI_EXIT_OK) return 0;
    if (r == MF_CLI_EXIT_BAD) return 2;
    if (app->cfg.log.instance[0])
        snprintf(app->instance, sizeof(app->instance), "%s", app->cfg.log.instance);
    else
        default_instance(app->instance, sizeof(app->instance));
    mf_log_level_parse(app->cfg.log.level, &lvl);
    mf_log_init(service, app->instance, lvl);
    mf_signals_install();
    mf_config_log(&app->cfg);
    if (mf_metrics_serve(app->cfg.metrics.bind, app->cfg.metrics.port, ready_nats, app) != MF_OK) {
        fprintf(stderr, "marketflow-%s: metrics port %d: cannot listen (in use?)\n", service,
                app->cfg.metrics.port);
        return 1;
    }
    return -1;
}

mf_status mf_app_connect(mf_app *app) {
    char name[128];
    mf_status s;
    snprintf(name, sizeof(name), "marketflow-%s/%s", app->service, app->instance);
    s = mf_nats_connect(&app->nats, &app->cfg, name);
    if (s != MF_OK || app->cfg.nats.transport != MF_TRANSPORT_JETSTREAM) return s;
    for (int attempt = 0;; attempt++) {
        s = MF_OK;
        for (mf_stream st = MF_STREAM_TICKS; st <= MF_STREAM_CONTROL && s == MF_OK; st++)
            if (app->streams & MF_APP_STREAM(st)) s = mf_nats_ensure_stream(app->nats, st);
        if (s == MF_OK) return MF_OK;
        /* JetStream may still be starting (or electing a leader in a cluster). */
        if (mf_wait_stop((int)mf_backoff_ms(attempt, 250, 5000))) return MF_ERR_CLOSED;
    }
}

mf_status mf_app_heartbeat(mf_app *app, mf_heartbeat_fill fill, void *ctx) {
    return mf_heartbeat_start(&app->hb, app->nats, app->service, app->instance, 2000, fill, ctx);
}

void mf_app_shutdown(mf_app *app) {
    mf_heartbeat_stop(app->hb);
    app->hb = NULL;
    mf_nats_drain(app->nats, 5000);
    mf_nats_destroy(app->nats);
    app->nats = NULL;
    mf_metrics_stop();
}

int mf_app_run(mf_app *app, const mf_service_ops *ops, void *arg) {
    void *svc = NULL;
    int created = 0;
    mf_status s = ops->needs_nats ? mf_app_connect(app) : MF_OK;
    if (s == MF_OK) created = (s = ops->create(&svc, app, arg)) == MF_OK;
    if (s == MF_OK && !ops->needs_nats) atomic_store(&app->ready_without_nats, 1);
    if (s == MF_OK && ops->needs_nats && ops->status_fill != NULL)
        s = mf_app_heartbeat(app, ops->status_fill, svc);
    if (s == MF_OK) {
        while (!mf_stop_requested())
            if (ops->poll(svc)) break;
        mf_log(MF_LOG_INFO, "%s: stopping", mf_stop_requested() ? "stop requested" : "done");
    }
    if (created) ops->stop(svc);
    mf_app_shutdown(app); /* the last status still reads svc */
    ops->destroy(svc);
    if (s == MF_OK || s == MF_ERR_CLOSED) return 0;
    return s == MF_ERR_CONFIG ? 2 : 1;
}
