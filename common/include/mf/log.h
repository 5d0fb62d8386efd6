/* log.h: structured logging, one logfmt line per event on stderr.
 *
 *   ts=2026-11-21T15:53:24.125Z level=info svc=aggregator inst=host-12 src=x.c:91
 *   msg="stopped processed=10000"
 *
 * (one line; wrapped here). msg is the format string's whole output, quoted and escaped, so
 * key=value context written into the format stays inside the quotes: the line above comes
 * from mf_log(MF_LOG_INFO, "stopped processed=%d", 10000). By convention free text comes
 * first and key=value context after it: "feed connected exchange=%s addr=%s".
 * The whole line is written with one fprintf, so lines from several threads never interleave.
 * Thread-safe. Never call from a signal handler. */
#ifndef MF_LOG_H
#define MF_LOG_H

#include <stdio.h>

typedef enum mf_log_level {
    MF_LOG_DEBUG = 0,
    MF_LOG_INFO,
    MF_LOG_WARN,
    MF_LOG_ERROR,
} mf_log_level;

extern mf_log_level mf_log_min_level; /* read without locks; set before threads start */

/* The level check comes first so suppressed lines cost nothing. */
#define mf_log(level, ...)                                      \
    do {                                                        \
        if ((level) < mf_log_min_level) break;                  \
        mf_log_write((level), __FILE__, __LINE__, __VA_ARGS__); \
    } while (0)

/* Sets the service and instance names shown in every line (copied). */
void mf_log_init(const char *service, const char *instance, mf_log_level min_level);

/* Parses "debug", "info", "warn" or "error". Returns 0 on success, -1 otherwise. */
int mf_log_level_parse(const char *s, mf_log_level *out);

/* Sends lines to `f` instead of stderr (tests). NULL restores stderr. */
void mf_log_set_stream(FILE *f);

/* Formats one line into `buf` (at most `size` bytes, NUL-terminated, with the trailing newline)
 * for a given wall-clock time in ms. Returns the length written. Exposed for tests. */
size_t mf_log_format(char *buf,
                     size_t size,
                     long long now_ms,
                     mf_log_level level,
                     const char *file,
                     int line,
                     const char *msg);

void mf_log_write(mf_log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Rate-limited warning: logs at most once per `interval_ms` per call site and counts how
 * many were suppressed ("suppressed=N" is appended to the next line that passes). */
#define mf_log_ratelimited(level, interval_ms, ...)                                   \
    do {                                                                              \
        static mf_log_limiter lim__;                                                  \
        long long sup__;                                                              \
        if ((level) < mf_log_min_level) break;                                        \
        if (mf_log_limiter_pass(&lim__, (interval_ms), &sup__))                       \
            mf_log_write_suppressed((level), __FILE__, __LINE__, sup__, __VA_ARGS__); \
    } while (0)

typedef struct mf_log_limiter {
    long long next_ms;    /* monotonic ms when the next line may pass */
    long long suppressed; /* lines held back since the last one that passed */
    int lock;             /* spin flag; taken with atomics */
} mf_log_limiter;
int mf_log_limiter_pass(mf_log_limiter *lim, long long interval_ms, long long *suppressed);
void mf_log_write_suppressed(mf_log_level level,
                             const char *file,
                             int line,
                             long long suppressed,
                             const char *fmt,
                             ...) __attribute__((format(printf, 5, 6)));

#endif
