/* metrics.c: a fixed registry of atomic counters and gauges, rendered as Prometheus text,
 * served by libmicrohttpd on its own thread.
 *
 * Registration takes a mutex and appends; entries never move or change afterwards except
 * their value, so readers walk the published prefix of the array without locks. */
#include "mf/metrics.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf/log.h"
#include "mf/util.h"

#define MAX_METRICS 4096

typedef struct metric {
    char name[96];
    char labels[160];
    char help[160];
    int gauge;
    atomic_llong value;
} metric;

static metric g_metrics[MAX_METRICS];
static atomic_int g_count;
static pthread_mutex_t g_reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct MHD_Daemon *g_daemon;
static mf_ready_fn g_ready;
static void *g_ready_ctx;

static atomic_llong *reg(const char *name, const char *labels, const char *help, int gauge) {
    static atomic_llong overflow; /* past the limit: counted nowhere, never a crash */
    atomic_llong *out = &overflow;
    int n;
    pthread_mutex_lock(&g_reg_mu);
    n = atomic_load(&g_count);
    for (int i = 0; i < n; i++) {
        if (strcmp(g_metrics[i].name, name) == 0 && strcmp(g_metrics[i].labels, labels) == 0) {
            out = &g_metrics[i].value;
            goto done;
        }
    }
    if (n < MAX_METRICS) {
        metric *m = &g_metrics[n];
        snprintf(m->name, sizeof(m->name), "%s", name);
        snprintf(m->labels, sizeof(m->labels), "%s", labels ? labels : "");
        snprintf(m->help, sizeof(m->help), "%s", help ? help : "");
        m->gauge = gauge;
        atomic_init(&m->value, 0);
        out = &m->value;
        atomic_store(&g_count, n + 1);
    }
done:
    pthread_mutex_unlock(&g_reg_mu);
    return out;
}

atomic_llong *mf_counter(const char *name, const char *labels, const char *help) {
    return reg(name, labels ? labels : "", help, 0);
}

atomic_llong *mf_gauge(const char *name, const char *labels, const char *help) {
    return reg(name, labels ? labels : "", help, 1);
}

char *mf_metrics_render(size_t *len) {
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    int n = atomic_load(&g_count);
    if (f == NULL) return NULL;
    for (int i = 0; i < n; i++) {
        const metric *m = &g_metrics[i];
        int first = 1;
        for (int j = 0; j < i; j++) /* HELP/TYPE once per family */
            if (strcmp(g_metrics[j].name, m->name) == 0) first = 0;
        if (first) {
            fprintf(f, "# HELP marketflow_%s %s\n", m->name, m->help);
            fprintf(f, "# TYPE marketflow_%s %s\n", m->name, m->gauge ? "gauge" : "counter");
        }
        fprintf(f, "marketflow_%s%s%s%s %lld\n", m->name, m->labels[0] ? "{" : "", m->labels,
                m->labels[0] ? "}" : "", (long long)atomic_load(&m->value));
    }
    fclose(f);
    if (len) *len = size;
    return buf;
}

json_t *mf_metrics_json(void) {
    json_t *o = json_object();
    int n = atomic_load(&g_count);
    for (int i = 0; i < n; i++) {
        char key[300];
        const metric *m = &g_metrics[i];
        snprintf(key, sizeof(key), "%s%s%s%s", m->name, m->labels[0] ? "{" : "", m->labels,
                 m->labels[0] ? "}" : "");
        json_object_set_new(o, key, json_integer(atomic_load(&m->value)));
    }
    return o;
}

static enum MHD_Result reply(struct MHD_Connection *c,
                             unsigned code,
                             const char *type,
                             char *body,
                             size_t len,
                             enum MHD_ResponseMemoryMode mode) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    enum MHD_Result rc;
    if (r == NULL) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls,
                                  struct MHD_Connection *c,
                                  const char *url,
                                  const char *method,
                                  const char *version,
                                  const char *upload,
                                  size_t *upload_size,
                                  void **con_cls) {
    static char ok[] = "ok\n", notready[] = "not ready\n", notfound[] = "not found\n";
    static char badmethod[] = "method not allowed\n";
    (void)cls, (void)version, (void)upload, (void)upload_size, (void)con_cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, 405, "text/plain", badmethod, strlen(badmethod), MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") == 0) {
        size_t len = 0;
        char *body = mf_metrics_render(&len);
        if (body == NULL) return MHD_NO;
        return reply(c, 200, "text/plain; version=0.0.4", body, len, MHD_RESPMEM_MUST_FREE);
    }
    if (strcmp(url, "/healthz") == 0) {
        int up = g_ready == NULL || g_ready(g_ready_ctx);
        return up ? reply(c, 200, "text/plain", ok, strlen(ok), MHD_RESPMEM_PERSISTENT)
                  : reply(c, 503, "text/plain", notready, strlen(notready), MHD_RESPMEM_PERSISTENT);
    }
    return reply(c, 404, "text/plain", notfound, strlen(notfound), MHD_RESPMEM_PERSISTENT);
}

mf_status mf_metrics_serve(const char *bind, int port, mf_ready_fn ready, void *ctx) {
    struct sockaddr_in addr;
    if (port <= 0) return MF_OK;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, bind && *bind ? bind : "0.0.0.0", &addr.sin_addr) != 1) {
        mf_log(MF_LOG_ERROR, "metrics: bind address '%s' is not an IPv4 address", bind);
        return MF_ERR_CONFIG;
    }
    g_ready = ready;
    g_ready_ctx = ctx;
    g_daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL, on_request,
                         NULL, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                         MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_END);
    if (g_daemon == NULL) {
        mf_log(MF_LOG_ERROR, "metrics: cannot listen on %s:%d (port in use?)", bind, port);
        return MF_ERR_IO;
    }
    mf_log(MF_LOG_INFO, "metrics listening addr=%s:%d paths=/metrics,/healthz", bind, port);
    return MF_OK;
}

void mf_metrics_stop(void) {
    if (g_daemon) MHD_stop_daemon(g_daemon);
    g_daemon = NULL;
}
