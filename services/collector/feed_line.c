/* feed_line.c: the line adapter of the feed port (feed.h): the exchange line protocol of
 * docs/design.md section 3 over a byte stream (TCP, stream_tcp.c).
 *
 * Framing (next(), the reader thread): each read goes straight into the connection's
 * coll_lines splitter (lines.c: collector.max_line limit, an overlong line skipped to its
 * newline and reported once, CRLF accepted, empty lines ignored); every complete line
 * becomes a frame borrowed from the splitter's buffer, keyed by the hash of its "symbol"
 * value. Decoding (decode(), the workers): the strict fast parser mf_feed_line_parse, which
 * also checks the timestamp window in the same pass. */
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "lines.h"
#include "mf/util.h"

#define FRAMES_INITIAL 1024

typedef struct line_conn {
    coll_feed_conn base; /* first: the port's view */
    const coll_stream_ops *stream;
    void *io;
    coll_lines lb;
    coll_frame *frames;
    size_t nframes, frames_cap, too_long;
} line_conn;

unsigned coll_symbol_hash(const char *line, size_t len) {
    static const char key[] = "\"symbol\"";
    const char *p = memmem(line, len, key, sizeof(key) - 1);
    const char *end = line + len;
    unsigned h = 2166136261u; /* FNV-1a */
    if (p == NULL) return 0;
    p += sizeof(key) - 1;
    while (p < end && (*p == ' ' || *p == '\t' || *p == ':')) p++;
    if (p >= end || *p != '"') return 0;
    for (p++; p < end && *p != '"'; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

static void on_line(void *ctx, const char *line, size_t len) {
    line_conn *c = ctx;
    if (c->nframes == c->frames_cap) {
        c->frames_cap *= 2;
        c->frames = mf_xrealloc(c->frames, c->frames_cap * sizeof(*c->frames));
    }
    c->frames[c->nframes].data = line;
    c->frames[c->nframes].len = (uint32_t)len;
    c->frames[c->nframes].key = coll_symbol_hash(line, len);
    c->nframes++;
}

static void on_too_long(void *ctx) {
    line_conn *c = ctx;
    c->too_long++;
}

static const coll_lines_cb line_cb = {on_line, on_too_long};

mf_status coll_feed_line_open_on(coll_feed_conn **out,
                                 const coll_feed_ops *ops,
                                 const coll_stream_ops *stream,
                                 const mf_endpoint *ep,
                                 const coll_feed_opts *opts,
                                 int timeout_ms) {
    void *io = NULL;
    line_conn *c;
    mf_status s = stream->connect(&io, ep, timeout_ms);
    if (s != MF_OK) return s;
    c = mf_xcalloc(1, sizeof(*c));
    c->base.ops = ops;
    c->stream = stream;
    c->io = io;
    coll_lines_init(&c->lb, opts->max_line);
    c->frames_cap = FRAMES_INITIAL;
    c->frames = mf_xmalloc(c->frames_cap * sizeof(*c->frames));
    *out = &c->base;
    return MF_OK;
}

static mf_status
line_open(coll_feed_conn **out, const mf_endpoint *ep, const coll_feed_opts *opts, int timeout_ms) {
    return coll_feed_line_open_on(out, &coll_feed_line, &coll_stream_tcp, ep, opts, timeout_ms);
}

static mf_status line_next(coll_feed_conn *conn, coll_frames *out, int timeout_ms) {
    line_conn *c = (line_conn *)conn;
    size_t avail, n = 0;
    char *space = coll_lines_space(&c->lb, &avail); /* ends the last batch's frames */
    mf_status s;
    c->nframes = c->too_long = 0;
    out->v = c->frames;
    out->n = out->too_long = 0;
    s = c->stream->read(c->io, space, avail, &n, timeout_ms);
    if (s != MF_OK) return s;
    coll_lines_commit(&c->lb, n, &line_cb, c);
    out->n = c->nframes;
    out->too_long = c->too_long;
    return MF_OK;
}

static mf_reject
line_decode(const char *frame, size_t len, const coll_decode_env *env, coll_msg *out) {
    out->kind = COLL_MSG_TICK;
    return mf_feed_line_parse(frame, len, env->now_ms, env->max_past_ms, env->max_future_ms,
                              &out->u.tick);
}

static void line_close(coll_feed_conn *conn) {
    line_conn *c = (line_conn *)conn;
    c->stream->close(c->io);
    coll_lines_cleanup(&c->lb);
    free(c->frames);
    free(c);
}

const coll_feed_ops coll_feed_line = {
    .kind = "line",
    .open = line_open,
    .next = line_next,
    .decode = line_decode,
    .snapshot = NULL, /* the line protocol has no REST side */
    .close = line_close,
};
