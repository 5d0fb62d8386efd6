/* stream_tcp.c: the TCP byte stream under the line adapter (coll_stream_tcp, feed.h).
 * Non-blocking connect with a timeout, then poll()+read() with a timeout so the reader thread
 * can notice a stop or a mode switch. */
#include "feed.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mf/util.h"

typedef struct tcp_conn {
    int fd;
} tcp_conn;

/* Waits for a non-blocking connect to finish. Returns 0 when connected. */
static int wait_connected(int fd, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int err = 0;
    socklen_t len = sizeof(err);
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0) return -1;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return -1;
    return 0;
}

static int connect_addr(const struct addrinfo *ai, int timeout_ms) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
        (errno != EINPROGRESS || wait_connected(fd, timeout_ms) != 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

static mf_status tcp_connect(void **conn, const mf_endpoint *ep, int timeout_ms) {
    struct addrinfo hints, *res = NULL;
    char port[16];
    int fd = -1;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", ep->port);
    if (getaddrinfo(ep->host, port, &hints, &res) != 0) return MF_ERR_IO;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
        fd = connect_addr(ai, timeout_ms);
    freeaddrinfo(res);
    if (fd < 0) return MF_ERR_IO;
    tcp_conn *c = mf_xmalloc(sizeof(*c));
    c->fd = fd;
    *conn = c;
    return MF_OK;
}

static mf_status tcp_read(void *conn, char *buf, size_t cap, size_t *n, int timeout_ms) {
    tcp_conn *c = conn;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    ssize_t r;
    *n = 0;
    for (;;) {
        r = read(c->fd, buf, cap);
        if (r > 0) {
            *n = (size_t)r;
            return MF_OK;
        }
        if (r == 0) return MF_ERR_CLOSED;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return MF_ERR_IO;
        int pr = poll(&p, 1, timeout_ms);
        if (pr == 0) return MF_ERR_TIMEOUT;
        if (pr < 0 && errno != EINTR) return MF_ERR_IO;
        timeout_ms = 0; /* readable (or hung up): the next read() tells which */
        if (pr > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) return MF_ERR_TIMEOUT;
    }
}

static void tcp_close(void *conn) {
    tcp_conn *c = conn;
    if (c == NULL) return;
    close(c->fd);
    free(c);
}

const coll_stream_ops coll_stream_tcp = {
    .connect = tcp_connect,
    .read = tcp_read,
    .close = tcp_close,
};
