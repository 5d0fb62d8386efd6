/* main.c: marketflow-generator wiring: flags, config, the feed server, the stop sequence.
 * The generator is a stand-in exchange: it never connects to NATS (see docs/generator.md). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_server.h"
#include "gen_stream.h"
#include "mf/app.h"
#include "mf/log.h"
#include "mf/signals.h"
#include "mf/util.h"

#define TOTALS_EVERY_MS 10000

typedef struct gen_main_opts {
    gen_options server;
    int64_t duration_s; /* 0 = until signalled */
} gen_main_opts;

static int set_key(mf_config *cfg, const char *key, const char *value, char *err, size_t errlen) {
    char origin[64];
    snprintf(origin, sizeof(origin), "from --%s", key);
    return mf_config_set(cfg, "generator", key, value, origin, err, errlen) == MF_OK ? 0 : -1;
}

static int flag_listen(mf_config *cfg, void *ctx, const char *v, char *err, size_t errlen) {
    return set_key(cfg, "listen", v, err, errlen);
}
static int flag_rate(mf_config *cfg, void *ctx, const char *v, char *err, size_t errlen) {
    return set_key(cfg, "rate", v, err, errlen);
}
static int flag_interval(mf_config *cfg, void *ctx, const char *v, char *err, size_t errlen) {
    return set_key(cfg, "interval_ms", v, err, errlen);
}
static int flag_symbols(mf_config *cfg, void *ctx, const char *v, char *err, size_t errlen) {
    return set_key(cfg, "symbols", v, err, errlen);
}
static int flag_seed(mf_config *cfg, void *ctx, const char *v, char *err, size_t errlen) {
    return set_key(cfg, "seed", v, err, errlen);
}
static int flag_extended(mf_config *cfg, void *ctx, const char *v, char *err, size_t errlen) {
    return set_key(cfg, "extended", "true", err, errlen);
}
static int flag_log(mf_config *cfg, void *ctx, const char *v, char *err, size_t errlen) {
    return set_key(cfg, "log", v, err, errlen);
}
static int flag_faults(mf_config *cfg, void *ctx, const char *v, char *err, size_t errlen) {
    gen_faults f;
    if (gen_faults_parse(v, &f, err, errlen) != MF_OK) return -1;
    return set_key(cfg, "faults", v, err, errlen);
}

static int flag_count(mf_config *cfg, void *ctx, const char *v, char *err, size_t errlen) {
    gen_main_opts *o = ctx;
    if (mf_parse_i64(v, 1, INT64_MAX, &o->server.count) != 0) {
        snprintf(err, errlen, "--count '%s': expected a whole number >= 1", v);
        return -1;
    }
    return 0;
}

static int flag_duration(mf_config *cfg, void *ctx, const char *v, char *err, size_t errlen) {
    gen_main_opts *o = ctx;
    if (mf_parse_i64(v, 1, 86400 * 365, &o->duration_s) != 0) {
        snprintf(err, errlen, "--duration '%s': expected whole seconds >= 1", v);
        return -1;
    }
    return 0;
}

static int flag_buffer(mf_config *cfg, void *ctx, const char *v, char *err, size_t errlen) {
    gen_main_opts *o = ctx;
    int64_t b;
    if (mf_parse_i64(v, 4096, (int64_t)1 << 32, &b) != 0) {
        snprintf(err, errlen, "--client-buffer '%s': expected bytes in 4096..4294967296", v);
        return -1;
    }
    o->server.client_buffer = (size_t)b;
    return 0;
}

static const mf_cli_flag FLAGS[] = {
    {"--listen", "LIST", "feeds: name=host:port,... (generator.listen)", flag_listen},
    {"--rate", "N", "lines/s per feed; 0 = one per symbol every interval (generator.rate)",
     flag_rate},
    {"--interval-ms", "MS", "round interval when rate is 0 (generator.interval_ms)", flag_interval},
    {"--symbols", "LIST", "SYM[:price],... (generator.symbols)", flag_symbols},
    {"--seed", "N", "PRNG seed; same seed, same stream (generator.seed)", flag_seed},
    {"--extended", NULL, "add qty, id and side (generator.extended)", flag_extended},
    {"--log", "FILE", "write every line sent as '<exchange> <line>' (generator.log)", flag_log},
    {"--faults", "SPEC", "fault injection, see docs/generator.md (generator.faults)", flag_faults},
    {"--count", "N", "each feed ends after N lines (then exits once all clients are served)",
     flag_count},
    {"--duration", "S", "stop after S seconds, as on SIGTERM", flag_duration},
    {"--client-buffer", "BYTES", "output held per client before it is dropped (4194304)",
     flag_buffer},
    {NULL, NULL, NULL, NULL}};

static const char USAGE[] =
    "marketflow-generator [--listen LIST] [--rate N] [--seed N] [--count N] [--config FILE]\n"
    "Simulated exchange feeds (docs/design.md section 3): one TCP listener per exchange, one JSON\n"
    "line per tick, a seeded random walk per exchange, optional fault injection.";

/* The service verbs (mf_service_ops). The generator has no bus: it runs until a signal,
 * --duration, or every feed reached --count. */
typedef struct gen_service {
    gen_server *srv;
    const gen_main_opts *opts;
    int64_t start_ms, next_totals_ms;
} gen_service;

static mf_status svc_create(void **svc, mf_app *app, void *arg) {
    const gen_main_opts *opts = arg;
    gen_service *g = mf_xcalloc(1, sizeof(*g));
    char err[512];
    mf_status s;
    *svc = g;
    g->opts = opts;
    s = gen_server_create(&g->srv, &app->cfg, &opts->server, err, sizeof(err));
    if (s != MF_OK) {
        fprintf(stderr, "marketflow-generator: %s\n", err);
        return s == MF_ERR_CONFIG ? MF_ERR_CONFIG : MF_ERR_IO;
    }
    if (gen_server_start(g->srv) != MF_OK) {
        fprintf(stderr, "marketflow-generator: cannot start feed threads\n");
        return MF_ERR_IO;
    }
    g->start_ms = mf_mono_ms();
    g->next_totals_ms = g->start_ms + TOTALS_EVERY_MS;
    mf_log(MF_LOG_INFO, "running rate=%d interval_ms=%d seed=%lld extended=%d count=%lld",
           app->cfg.generator.rate, app->cfg.generator.interval_ms,
           (long long)app->cfg.generator.seed, app->cfg.generator.extended,
           (long long)opts->server.count);
    return MF_OK;
}

static int svc_poll(void *svc) {
    gen_service *g = svc;
    int64_t now = mf_mono_ms();
    if (gen_server_done(g->srv)) return 1;
    if (g->opts->duration_s > 0 && now - g->start_ms >= g->opts->duration_s * 1000) {
        mf_log(MF_LOG_INFO, "duration reached s=%lld", (long long)g->opts->duration_s);
        return 1;
    }
    if (now >= g->next_totals_ms) {
        gen_server_log_totals(g->srv);
        g->next_totals_ms = now + TOTALS_EVERY_MS;
    }
    mf_wait_stop(50);
    return 0;
}

static void svc_stop(void *svc) {
    gen_service *g = svc;
    gen_server_stop(g->srv);
    gen_server_log_totals(g->srv);
}

static void svc_destroy(void *svc) {
    gen_service *g = svc;
    if (g == NULL) return;
    gen_server_destroy(g->srv);
    free(g);
}

static const mf_service_ops service = {
    .needs_nats = 0,
    .create = svc_create,
    .poll = svc_poll,
    .status_fill = NULL,
    .stop = svc_stop,
    .destroy = svc_destroy,
};

int main(int argc, char **argv) {
    gen_main_opts opts = {.server = {.count = 0, .client_buffer = GEN_DEFAULT_CLIENT_BUFFER},
                          .duration_s = 0};
    mf_app app;
    int rc = mf_app_init(&app, "generator", argc, argv, USAGE, FLAGS, &opts);
    if (rc >= 0) return rc;
    rc = mf_app_run(&app, &service, &opts);
    mf_log(MF_LOG_INFO, "stopped");
    return rc;
}
