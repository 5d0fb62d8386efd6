/* api_http.c: the HTTP face of the api. We bind and listen ourselves (api_listen_open) so
 * that a port in use is reported with its errno before NATS is even tried; libmicrohttpd
 * then serves that socket in epoll mode with a small thread pool (API_HTTP_THREADS): each
 * pool thread multiplexes many connections, so slow or idle clients hold a socket (closed
 * after api.timeout_s) but never a thread. Handlers run on these threads. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api_internal.h"
#include "mf/util.h"

int api__send_json(struct _u_response *resp, int status, json_t *body) {
    char *s = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(body);
    if (s == NULL) s = mf_xstrdup("{\"error\":\"internal error\"}"), status = 500;
    ulfius_set_binary_body_response(resp, (unsigned)status, s, strlen(s));
    u_map_put(resp->map_header, "Content-Type", "application/json");
    free(s);
    return U_CALLBACK_COMPLETE;
}

int api__send_error(struct _u_response *resp, int status, const char *msg) {
    return api__send_json(resp, status, api_error_json(msg));
}

static void count_status(api_service *s, int status) {
    atomic_fetch_add(s->requests, 1);
    if (status < 400)
        atomic_fetch_add(s->r2xx, 1);
    else if (status < 500)
        atomic_fetch_add(s->r4xx, 1);
    else
        atomic_fetch_add(s->r5xx, 1);
}

static int on_request(const struct _u_request *req, struct _u_response *resp, void *ctx) {
    api_service *s = ctx;
    int rc = api__dispatch(s, req, resp);
    count_status(s, (int)resp->status);
    return rc;
}

/* The no-work route of the benchmark: a plain ulfius endpoint. */
static int on_ping(const struct _u_request *req, struct _u_response *resp, void *ctx) {
    (void)req, (void)ctx;
    ulfius_set_string_body_response(resp, 200, "{\"pong\":true}");
    u_map_put(resp->map_header, "Content-Type", "application/json");
    return U_CALLBACK_COMPLETE;
}

int api_listen_open(const mf_config *cfg) {
    struct sockaddr_in a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)cfg->api.port);
    if (inet_pton(AF_INET, cfg->api.bind, &a.sin_addr) != 1) {
        fprintf(stderr, "marketflow-api: api.bind '%s' is not an IPv4 address\n", cfg->api.bind);
        if (fd >= 0) close(fd);
        return -1;
    }
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 1024) != 0) {
        fprintf(stderr, "marketflow-api: cannot listen on %s:%d: %s\n", cfg->api.bind,
                cfg->api.port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

mf_status api__http_start(api_service *s) {
    const mf_config *cfg = s->cfg;
    struct MHD_OptionItem ops[] = {
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)mhd_request_completed, NULL},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)ulfius_uri_logger, NULL},
        {MHD_OPTION_LISTEN_SOCKET, s->listen_fd, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, cfg->api.timeout_s, NULL},
        {MHD_OPTION_THREAD_POOL_SIZE, API_HTTP_THREADS, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, 4096, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    if (ulfius_init_instance(&s->http, (unsigned)cfg->api.port, NULL, NULL) != U_OK) return MF_ERR;
    s->http.max_post_body_size = (size_t)cfg->api.max_body + 1; /* +1: detect overflow */
    s->http.timeout = (unsigned)cfg->api.timeout_s;
    ulfius_add_endpoint_by_val(&s->http, "GET", "/ping", NULL, 0, on_ping, s);
    ulfius_set_default_endpoint(&s->http, on_request, s);
    if (ulfius_start_framework_with_mhd_options(&s->http, MHD_USE_EPOLL_INTERNAL_THREAD, ops) !=
        U_OK) {
        fprintf(stderr, "marketflow-api: cannot start the HTTP server on %s:%d\n", cfg->api.bind,
                cfg->api.port);
        ulfius_clean_instance(&s->http);
        return MF_ERR_IO;
    }
    s->http_started = 1;
    return MF_OK;
}

void api__http_stop(api_service *s) {
    if (s->http_started) {
        ulfius_stop_framework(&s->http);
        ulfius_clean_instance(&s->http);
        s->http_started = 0;
    }
    if (s->listen_fd >= 0) close(s->listen_fd);
    s->listen_fd = -1;
}
