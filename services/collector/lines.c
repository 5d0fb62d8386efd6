/* lines.c: newline framing with a bounded buffer; see lines.h. */
#include "lines.h"

#include <stdlib.h>
#include <string.h>

#include "mf/util.h"

void coll_lines_init(coll_lines *lb, size_t max_line) {
    memset(lb, 0, sizeof(*lb));
    lb->max_line = max_line;
    lb->cap = max_line + 2 + COLL_LINES_CHUNK;
    lb->buf = mf_xmalloc(lb->cap);
}

void coll_lines_cleanup(coll_lines *lb) {
    free(lb->buf);
    lb->buf = NULL;
}

void coll_lines_reset(coll_lines *lb) {
    lb->off = lb->len = 0;
    lb->skipping = 0;
}

char *coll_lines_space(coll_lines *lb, size_t *avail) {
    if (lb->off > 0) {
        memmove(lb->buf, lb->buf + lb->off, lb->len);
        lb->off = 0;
    }
    *avail = lb->cap - lb->len;
    return lb->buf + lb->len;
}

static void emit(coll_lines *lb, const char *line, size_t len, const coll_lines_cb *cb, void *ctx) {
    if (len > 0 && line[len - 1] == '\r') len--;
    if (len == 0) return;
    if (len > lb->max_line) {
        cb->on_too_long(ctx);
        return;
    }
    cb->on_line(ctx, line, len);
}

void coll_lines_commit(coll_lines *lb, size_t n, const coll_lines_cb *cb, void *ctx) {
    size_t end = lb->len + n, start = 0, i = lb->len;
    char *nl;
    MF_ASSERT(lb->off == 0); /* bytes were written at coll_lines_space() */
    /* buf[0..len) holds no newline (it is the tail of an incomplete line): scan new bytes. */
    while (i < end && (nl = memchr(lb->buf + i, '\n', end - i)) != NULL) {
        size_t pos = (size_t)(nl - lb->buf);
        if (lb->skipping)
            lb->skipping = 0; /* the overlong line ends here; it was reported when it began */
        else
            emit(lb, lb->buf + start, pos - start, cb, ctx);
        start = i = pos + 1;
    }
    if (lb->skipping) {
        lb->len = 0;
        return;
    }
    /* The incomplete tail may hold one '\r' more than max_line before its '\n'. */
    if (end - start > lb->max_line + 1) {
        cb->on_too_long(ctx);
        lb->skipping = 1;
        lb->len = 0;
        return;
    }
    lb->off = start; /* moved to the front by the next coll_lines_space() */
    lb->len = end - start;
}

void coll_lines_feed(coll_lines *lb,
                     const char *data,
                     size_t n,
                     const coll_lines_cb *cb,
                     void *ctx) {
    while (n > 0) {
        size_t avail;
        char *dst = coll_lines_space(lb, &avail);
        size_t k = n < avail ? n : avail;
        memcpy(dst, data, k);
        coll_lines_commit(lb, k, cb, ctx);
        data += k;
        n -= k;
    }
}
