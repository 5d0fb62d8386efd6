/* util.h: memory that never fails, clocks, small string helpers. */
#ifndef MF_UTIL_H
#define MF_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Allocate or abort: running out of memory is not an error path (Valkey zmalloc). */
void *mf_xmalloc(size_t n);
void *mf_xcalloc(size_t count, size_t n);
void *mf_xrealloc(void *p, size_t n);
char *mf_xstrdup(const char *s);

/* Invariant check that stays on in release builds. Logs and aborts. */
#define MF_ASSERT(cond)                                         \
    do {                                                        \
        if (!(cond)) mf_assert_fail(#cond, __FILE__, __LINE__); \
    } while (0)
void mf_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

int64_t mf_now_ms(void);      /* wall clock, Unix ms (CLOCK_REALTIME) */
int64_t mf_mono_ms(void);     /* monotonic ms, for intervals and timeouts */
int64_t mf_mono_ns(void);     /* monotonic ns, for latency measurements */
void mf_sleep_ms(int64_t ms); /* nanosleep, restarts on EINTR */
/* Appending into a fixed buffer without printf: *p is the write position, `end` the first byte
 * that must stay free (one before the buffer's end when a NUL follows). Each returns 0, or -1
 * (nothing written) when the text does not fit. For the hot paths (a tick encoded per message);
 * snprintf is fine everywhere else. */
int mf_put(char **p, const char *end, const char *s, size_t len);
int mf_put_str(char **p, const char *end, const char *s); /* strlen(s) bytes */
int mf_put_i64(char **p, const char *end, int64_t v);     /* decimal, as %lld */
void mf_sleep_us(int64_t us);                             /* same, in microseconds */

/* Copies `src` into `dst[size]`. Returns 0, or -1 when it did not fit (dst is then "" ). */
int mf_strlcpy(char *dst, const char *src, size_t size);

/* Upper-cases ASCII in place. */
void mf_str_upper(char *s);

/* Parses a whole decimal integer in [min, max]. Returns 0, or -1 on garbage or range. */
int mf_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Parses "true/false/yes/no/on/off/1/0" (case-insensitive). Returns 0 or -1. */
int mf_parse_bool(const char *s, int *out);

/* Names this thread for top/gdb (at most 15 characters are kept). */
void mf_thread_name(const char *name);

/* Capped exponential backoff: base_ms * 2^attempt, at most cap_ms, with +-20% jitter. */
int64_t mf_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms);

#endif
