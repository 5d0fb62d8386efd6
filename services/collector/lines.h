/* lines.h: splits a byte stream into lines (the feed protocol's framing, docs/design.md section 3).
 *
 * Reads go straight into the splitter's buffer (coll_lines_space, then coll_lines_commit),
 * so complete lines are handed out without a copy; they stay valid until the next
 * coll_lines_space, reset or cleanup (the kept tail is moved to the front only then), so a
 * caller may collect the lines of one commit and use them after it. A trailing '\r' is
 * stripped (CRLF feeds), empty lines are ignored. A line longer than max_line is skipped up
 * to its newline without being buffered whole, and reported once through on_too_long. Not
 * thread-safe: one per reader. */
#ifndef COLL_LINES_H
#define COLL_LINES_H

#include <stddef.h>

typedef struct coll_lines_cb {
    /* One complete line, without "\n" or "\r\n". `line` is borrowed until the call returns. */
    void (*on_line)(void *ctx, const char *line, size_t len);
    /* One line longer than max_line was (or is being) skipped. */
    void (*on_too_long)(void *ctx);
} coll_lines_cb;

typedef struct coll_lines {
    char *buf;
    size_t cap; /* max_line + 2 + read chunk */
    size_t off; /* the incomplete line kept is buf[off, off + len) */
    size_t len;
    size_t max_line; /* longest accepted line, in bytes without the line ending */
    int skipping;    /* inside an overlong line: drop bytes until the next '\n' */
} coll_lines;

#define COLL_LINES_CHUNK (64 * 1024)

/* Allocates the buffer (aborts on OOM). max_line > 0. */
void coll_lines_init(coll_lines *lb, size_t max_line);
void coll_lines_cleanup(coll_lines *lb);
/* Forgets any partial line (after a reconnect). */
void coll_lines_reset(coll_lines *lb);
/* Where the next read may write, and how many bytes fit there (>= COLL_LINES_CHUNK). Ends
 * the life of the lines emitted by the last commit. */
char *coll_lines_space(coll_lines *lb, size_t *avail);
/* Takes `n` bytes just written at coll_lines_space() and emits every complete line. */
void coll_lines_commit(coll_lines *lb, size_t n, const coll_lines_cb *cb, void *ctx);
/* Copies `data` in (in chunks) and commits it: for tests and callers without a read(). */
void coll_lines_feed(coll_lines *lb, const char *data, size_t n, const coll_lines_cb *cb, void *ctx);

#endif
