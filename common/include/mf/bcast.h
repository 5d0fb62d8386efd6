/* bcast.h: an epoll fan-out of byte frames to many stream sockets, with a bounded output
 * buffer per client so that a reader that stops never slows the others.
 *
 * The generator's feeds are built on it, and it is the model for later push code (the
 * WebSocket push of docs/design.md section 14). One mf_bcast belongs to one thread: every
 * call, and every callback, happens on the thread that calls mf_bcast_poll. It owns its
 * epoll set, the listening sockets handed to it and every client socket (accepted by it or
 * handed to it).
 *
 * Sending: a frame goes straight to the socket when the client has nothing pending, and what
 * the kernel does not take is appended to the client's buffer; pending bytes are written as
 * the socket drains (EPOLLOUT). A frame that would take a client's pending bytes above
 * `client_buffer` goes through the drop policy: by default the client is dropped (closed,
 * counted as slow). A client that takes no byte for `stall_ms` while bytes are pending is
 * dropped too. Bytes a client sends are discarded unless on_read is set.
 *
 * Handles: an mf_bcast_client stays valid until the mf_bcast_poll after it was closed (its
 * on_close has been called by then), so a handle held by the owner must be forgotten in
 * on_close. */
#ifndef MF_BCAST_H
#define MF_BCAST_H

#include <stddef.h>
#include <stdint.h>

#include "mf/status.h"

typedef struct mf_bcast mf_bcast;
typedef struct mf_bcast_client mf_bcast_client;

/* What the drop policy decides for a frame that does not fit a client's buffer. */
typedef enum mf_bcast_full {
    MF_BCAST_DROP = 0, /* close the client as slow (the default) */
    MF_BCAST_SKIP,     /* keep the client, do not send it this frame */
} mf_bcast_full;

typedef struct mf_bcast_opts {
    const char *label;    /* put in front of every log line's context, e.g. "exchange=ex1" */
    size_t client_buffer; /* bytes pending per client at most (> 0) */
    int64_t stall_ms;     /* drop a client that took no byte for this long; 0 = never */
    void *ctx;            /* passed to every callback */
    /* Optional. A connection just accepted from a listener: return 0 to keep it, non-zero
     * to refuse it (closed at once, nothing counted or logged). */
    int (*on_accept)(void *ctx, const char *addr);
    /* Optional. A client was closed; `why` is the reason ("slow" when it was dropped for
     * falling behind, else "eof", "read error", "write error", "hangup" or the owner's). */
    void (*on_close)(void *ctx, mf_bcast_client *c, const char *why);
    /* Optional drop policy for a frame of `len` bytes that does not fit: NULL = drop. */
    mf_bcast_full (*on_full)(void *ctx, mf_bcast_client *c, size_t pending, size_t len);
    /* Optional. Bytes the client sent (borrowed for the call); NULL = discard them. */
    void (*on_read)(void *ctx, mf_bcast_client *c, const char *data, size_t len);
} mf_bcast_opts;

/* Totals since create. */
typedef struct mf_bcast_stats {
    long long accepted; /* clients added (accepted or handed in) */
    long long dropped;  /* closed as slow (overflow or stall) */
    long long closed;   /* closed for any other reason */
    long long frames;   /* frames taken by at least one client */
    int clients;        /* open now */
} mf_bcast_stats;

/* Creates an empty fan-out (opts copied; label borrowed, must outlive it). MF_ERR_IO when
 * no epoll set could be made. */
mf_status mf_bcast_create(mf_bcast **out, const mf_bcast_opts *opts);
/* Closes every client (on_close is not called) and listener, frees. Accepts NULL. */
void mf_bcast_destroy(mf_bcast *b);

/* Takes a listening socket (made non-blocking here): its connections become clients. */
mf_status mf_bcast_listen(mf_bcast *b, int lfd);
/* Takes a connected stream socket (accepted elsewhere, or one end of a socketpair) as a
 * client; `addr` names it in logs. *out (may be NULL) receives its handle. */
mf_status mf_bcast_add(mf_bcast *b, int fd, const char *addr, mf_bcast_client **out);

/* Frees the clients closed since the last call, waits at most timeout_ms for socket events
 * (-1 = forever) and handles them: accepts, writes pending bytes, reads, closes clients that
 * hung up, then drops stalled clients. Returns the number of events, -1 on an epoll error. */
int mf_bcast_poll(mf_bcast *b, int timeout_ms);

/* Sends one frame to every open client; returns how many took it (sent or buffered). */
int mf_bcast_send_all(mf_bcast *b, const void *data, size_t len);
/* Sends one frame to one client. MF_OK taken; MF_ERR_FULL not taken (the policy decided,
 * the client may be closed now); MF_ERR_CLOSED the client is (now) closed. */
mf_status mf_bcast_send(mf_bcast *b, mf_bcast_client *c, const void *data, size_t len);

/* Closes one client (`why` for the log and on_close). No-op when already closed. */
void mf_bcast_close(mf_bcast *b, mf_bcast_client *c, const char *why);
/* Closes every open client. */
void mf_bcast_close_all(mf_bcast *b, const char *why);
/* Closes every open client that has nothing pending; returns how many stay open. */
int mf_bcast_close_flushed(mf_bcast *b, const char *why);
/* Writes pending bytes for up to timeout_ms (at stop); returns the clients still pending. */
int mf_bcast_flush(mf_bcast *b, int timeout_ms);

/* Open clients. */
int mf_bcast_clients(const mf_bcast *b);
/* 1 when every open client has more than half of client_buffer pending (or none is open):
 * sending now would only overflow them all, so a producer that can wait should. */
int mf_bcast_all_behind(const mf_bcast *b);
/* Bytes pending for one client, and its name. */
size_t mf_bcast_pending(const mf_bcast_client *c);
const char *mf_bcast_addr(const mf_bcast_client *c);
void mf_bcast_stats_get(const mf_bcast *b, mf_bcast_stats *out);

#endif
