/* bcast.c: epoll fan-out with a bounded buffer per client; see mf/bcast.h.
 *
 * Epoll data: a client's pointer, or the mf_bcast itself for every listener (an event on
 * any listener accepts from all of them: accept4 on a non-blocking listener with nothing
 * waiting returns EAGAIN at once). Closed clients are marked dead and freed at the start of
 * the next mf_bcast_poll, after the events and the sends that may still point at them. */
#include "mf/bcast.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mf/log.h"
#include "mf/util.h"

#define EPOLL_EVENTS 64
#define BUFFER_INITIAL 65536
#define FLUSH_WAIT_MS 20

struct mf_bcast_client {
    int fd;
    int dead;            /* closed; freed at the next poll */
    int out_armed;       /* EPOLLOUT registered */
    int64_t progress_ms; /* monotonic ms of the last byte the kernel took (or of the add) */
    char *out;           /* pending bytes are out[off, len) */
    size_t off, len, cap;
    char addr[64];
};

struct mf_bcast {
    mf_bcast_opts o;
    int epfd;
    int *lfds;
    int nlfds;
    mf_bcast_client **clients;
    int nclients, clients_cap;
    mf_bcast_stats st;
};

mf_status mf_bcast_create(mf_bcast **out, const mf_bcast_opts *opts) {
    mf_bcast *b;
    if (out == NULL || opts == NULL || opts->client_buffer == 0) return MF_ERR_INVALID_ARG;
    b = mf_xcalloc(1, sizeof(*b));
    b->o = *opts;
    if (b->o.label == NULL) b->o.label = "";
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (b->epfd < 0) {
        free(b);
        return MF_ERR_IO;
    }
    *out = b;
    return MF_OK;
}

static void client_free(mf_bcast_client *c) {
    free(c->out);
    free(c);
}

void mf_bcast_destroy(mf_bcast *b) {
    if (b == NULL) return;
    for (int i = 0; i < b->nclients; i++) {
        if (!b->clients[i]->dead) close(b->clients[i]->fd);
        client_free(b->clients[i]);
    }
    for (int i = 0; i < b->nlfds; i++) close(b->lfds[i]);
    close(b->epfd);
    free(b->clients);
    free(b->lfds);
    free(b);
}

mf_status mf_bcast_listen(mf_bcast *b, int lfd) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = b};
    int fl = fcntl(lfd, F_GETFL);
    if (fl < 0 || fcntl(lfd, F_SETFL, fl | O_NONBLOCK) != 0) return MF_ERR_IO;
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, lfd, &ev) != 0) return MF_ERR_IO;
    b->lfds = mf_xrealloc(b->lfds, sizeof(*b->lfds) * (size_t)(b->nlfds + 1));
    b->lfds[b->nlfds++] = lfd;
    return MF_OK;
}

mf_status mf_bcast_add(mf_bcast *b, int fd, const char *addr, mf_bcast_client **out) {
    struct epoll_event ev;
    mf_bcast_client *c;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) return MF_ERR_IO;
    c = mf_xcalloc(1, sizeof(*c));
    c->fd = fd;
    c->progress_ms = mf_mono_ms();
    snprintf(c->addr, sizeof(c->addr), "%s", addr ? addr : "?");
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = c;
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        free(c);
        return MF_ERR_IO;
    }
    if (b->nclients == b->clients_cap) {
        b->clients_cap = b->clients_cap ? b->clients_cap * 2 : 8;
        b->clients = mf_xrealloc(b->clients, sizeof(*b->clients) * (size_t)b->clients_cap);
    }
    b->clients[b->nclients++] = c;
    b->st.accepted++;
    b->st.clients++;
    mf_log(MF_LOG_INFO, "client connected %s addr=%s clients=%d", b->o.label, c->addr, b->nclients);
    if (out != NULL) *out = c;
    return MF_OK;
}

/* ---- closing -------------------------------------------------------------------------------- */

void mf_bcast_close(mf_bcast *b, mf_bcast_client *c, const char *why) {
    if (c->dead) return;
    mf_log(MF_LOG_INFO, "client closed %s addr=%s reason=%s pending=%zu", b->o.label, c->addr, why,
           c->len - c->off);
    close(c->fd);
    c->dead = 1;
    b->st.clients--;
    if (strcmp(why, "slow") == 0)
        b->st.dropped++;
    else
        b->st.closed++;
    if (b->o.on_close != NULL) b->o.on_close(b->o.ctx, c, why);
}

static void drop_slow(mf_bcast *b, mf_bcast_client *c) {
    mf_log_ratelimited(MF_LOG_WARN, 1000,
                       "dropping client that stopped reading %s addr=%s buffer=%zu", b->o.label,
                       c->addr, b->o.client_buffer);
    mf_bcast_close(b, c, "slow");
}

void mf_bcast_close_all(mf_bcast *b, const char *why) {
    for (int i = 0; i < b->nclients; i++) mf_bcast_close(b, b->clients[i], why);
}

int mf_bcast_close_flushed(mf_bcast *b, const char *why) {
    for (int i = 0; i < b->nclients; i++) {
        mf_bcast_client *c = b->clients[i];
        if (!c->dead && c->off == c->len) mf_bcast_close(b, c, why);
    }
    return b->st.clients;
}

/* Frees closed clients. */
static void sweep(mf_bcast *b) {
    int j = 0;
    for (int i = 0; i < b->nclients; i++) {
        mf_bcast_client *c = b->clients[i];
        if (c->dead)
            client_free(c);
        else
            b->clients[j++] = c;
    }
    b->nclients = j;
}

/* ---- writing -------------------------------------------------------------------------------- */

static void arm(mf_bcast *b, mf_bcast_client *c, int want_out) {
    struct epoll_event ev;
    if (c->out_armed == want_out) return;
    ev.events = EPOLLIN | EPOLLRDHUP | (want_out ? EPOLLOUT : 0);
    ev.data.ptr = c;
    epoll_ctl(b->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->out_armed = want_out;
}

/* Writes what the client has pending. Returns 0, or -1 when the client is gone. */
static int flush_client(mf_bcast *b, mf_bcast_client *c) {
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->out + c->off, c->len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->off += (size_t)n;
            c->progress_ms = mf_mono_ms();
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            arm(b, c, 1);
            return 0;
        }
        mf_bcast_close(b, c, "write error");
        return -1;
    }
    c->off = c->len = 0;
    arm(b, c, 0);
    return 0;
}

/* Appends to the client's buffer; MF_ERR_FULL when the bound would be passed. */
static mf_status buffer_append(mf_bcast *b, mf_bcast_client *c, const char *data, size_t len) {
    size_t pending = c->len - c->off;
    if (pending + len > b->o.client_buffer) return MF_ERR_FULL;
    if (c->off > 0 && c->len + len > c->cap) { /* compact before growing */
        memmove(c->out, c->out + c->off, pending);
        c->off = 0;
        c->len = pending;
    }
    if (c->len + len > c->cap) {
        size_t cap = c->cap ? c->cap : BUFFER_INITIAL;
        while (cap < c->len + len) cap *= 2;
        c->out = mf_xrealloc(c->out, cap);
        c->cap = cap;
    }
    memcpy(c->out + c->len, data, len);
    c->len += len;
    arm(b, c, 1);
    return MF_OK;
}

/* Direct write when nothing is pending, the rest buffered. MF_ERR_FULL when the buffer
 * would overflow, MF_ERR_IO when the client is gone. */
static mf_status send_one(mf_bcast *b, mf_bcast_client *c, const char *data, size_t len) {
    if (c->len - c->off == 0) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return MF_ERR_IO;
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            c->progress_ms = mf_mono_ms();
        }
        if (len == 0) return MF_OK;
        c->off = c->len = 0;
    }
    return buffer_append(b, c, data, len);
}

mf_status mf_bcast_send(mf_bcast *b, mf_bcast_client *c, const void *data, size_t len) {
    mf_status s;
    if (c->dead) return MF_ERR_CLOSED;
    s = send_one(b, c, data, len);
    if (s == MF_OK) return MF_OK;
    if (s == MF_ERR_IO) {
        mf_bcast_close(b, c, "write error");
        return MF_ERR_CLOSED;
    }
    if (b->o.on_full != NULL && b->o.on_full(b->o.ctx, c, c->len - c->off, len) == MF_BCAST_SKIP)
        return MF_ERR_FULL;
    drop_slow(b, c);
    return MF_ERR_FULL;
}

int mf_bcast_send_all(mf_bcast *b, const void *data, size_t len) {
    int took = 0;
    if (len == 0) return 0;
    for (int i = 0; i < b->nclients; i++)
        if (!b->clients[i]->dead && mf_bcast_send(b, b->clients[i], data, len) == MF_OK) took++;
    if (took > 0) b->st.frames++;
    return took;
}

int mf_bcast_flush(mf_bcast *b, int timeout_ms) {
    int64_t deadline = mf_mono_ms() + timeout_ms;
    struct epoll_event evs[EPOLL_EVENTS];
    for (;;) {
        int pending = 0;
        for (int i = 0; i < b->nclients; i++) {
            mf_bcast_client *c = b->clients[i];
            if (!c->dead && c->off < c->len && flush_client(b, c) == 0 && c->off < c->len)
                pending++;
        }
        if (pending == 0 || mf_mono_ms() >= deadline) return pending;
        epoll_wait(b->epfd, evs, EPOLL_EVENTS, FLUSH_WAIT_MS);
    }
}

/* ---- events --------------------------------------------------------------------------------- */

static void accept_from(mf_bcast *b, int lfd) {
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t slen = sizeof(sa);
        char host[48] = "?", port[8] = "?", addr[64];
        int one = 1;
        int fd = accept4(lfd, (struct sockaddr *)&sa, &slen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                mf_log_ratelimited(MF_LOG_WARN, 5000, "accept failed %s err=\"%s\"", b->o.label,
                                   strerror(errno));
            return;
        }
        getnameinfo((struct sockaddr *)&sa, slen, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV);
        snprintf(addr, sizeof(addr), "%s:%s", host, port);
        if (b->o.on_accept != NULL && b->o.on_accept(b->o.ctx, addr) != 0) {
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (mf_bcast_add(b, fd, addr, NULL) != MF_OK) close(fd);
    }
}

static void readable(mf_bcast *b, mf_bcast_client *c) {
    char scratch[4096];
    for (;;) {
        ssize_t n = recv(c->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
        if (n > 0) {
            if (b->o.on_read != NULL) b->o.on_read(b->o.ctx, c, scratch, (size_t)n);
            if (c->dead) return; /* closed by on_read */
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        mf_bcast_close(b, c, n == 0 ? "eof" : "read error");
        return;
    }
}

static void handle(mf_bcast *b, const struct epoll_event *ev) {
    mf_bcast_client *c = ev->data.ptr;
    if (ev->data.ptr == b) {
        for (int i = 0; i < b->nlfds; i++) accept_from(b, b->lfds[i]);
        return;
    }
    if (c->dead) return;
    if (ev->events & (EPOLLERR | EPOLLHUP)) {
        mf_bcast_close(b, c, "hangup");
        return;
    }
    if ((ev->events & EPOLLOUT) && flush_client(b, c) != 0) return;
    if (ev->events & (EPOLLIN | EPOLLRDHUP)) readable(b, c);
}

/* Drops clients that took no byte for stall_ms while output was pending. */
static void drop_stalled(mf_bcast *b) {
    int64_t now = mf_mono_ms();
    if (b->o.stall_ms <= 0) return;
    for (int i = 0; i < b->nclients; i++) {
        mf_bcast_client *c = b->clients[i];
        if (!c->dead && c->off < c->len && now - c->progress_ms > b->o.stall_ms) drop_slow(b, c);
    }
}

int mf_bcast_poll(mf_bcast *b, int timeout_ms) {
    struct epoll_event evs[EPOLL_EVENTS];
    int n;
    sweep(b);
    n = epoll_wait(b->epfd, evs, EPOLL_EVENTS, timeout_ms);
    if (n < 0 && errno != EINTR) return -1;
    for (int i = 0; i < n; i++) handle(b, &evs[i]);
    drop_stalled(b);
    return n < 0 ? 0 : n;
}

/* ---- state ---------------------------------------------------------------------------------- */

int mf_bcast_clients(const mf_bcast *b) {
    return b->st.clients;
}

int mf_bcast_all_behind(const mf_bcast *b) {
    size_t half = b->o.client_buffer / 2;
    for (int i = 0; i < b->nclients; i++) {
        const mf_bcast_client *c = b->clients[i];
        if (!c->dead && c->len - c->off <= half) return 0;
    }
    return 1;
}

size_t mf_bcast_pending(const mf_bcast_client *c) {
    return c->len - c->off;
}

const char *mf_bcast_addr(const mf_bcast_client *c) {
    return c->addr;
}

void mf_bcast_stats_get(const mf_bcast *b, mf_bcast_stats *out) {
    *out = b->st;
}
