/* util.c: allocation that never fails, clocks, small parsers. */
#include "mf/util.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mf/log.h"

static void oom(size_t n) {
    fprintf(stderr, "marketflow: out of memory allocating %zu bytes\n", n);
    abort();
}

void *mf_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (p == NULL) oom(n);
    return p;
}

void *mf_xcalloc(size_t count, size_t n) {
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (p == NULL) oom(count * n);
    return p;
}

void *mf_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) oom(n);
    return q;
}

char *mf_xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = mf_xmalloc(n);
    memcpy(p, s, n);
    return p;
}

void mf_assert_fail(const char *expr, const char *file, int line) {
    mf_log_write(MF_LOG_ERROR, file, line, "assertion failed: %s", expr);
    abort();
}

static int64_t clock_ms(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mf_now_ms(void) {
    return clock_ms(CLOCK_REALTIME);
}

int64_t mf_mono_ms(void) {
    return clock_ms(CLOCK_MONOTONIC);
}

int64_t mf_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void mf_sleep_us(int64_t us) {
    struct timespec req, rem;
    if (us <= 0) return;
    req.tv_sec = us / 1000000;
    req.tv_nsec = (long)(us % 1000000) * 1000;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR) req = rem;
}

void mf_sleep_ms(int64_t ms) {
    mf_sleep_us(ms * 1000);
}

int mf_strlcpy(char *dst, const char *src, size_t size) {
    size_t n;
    if (size == 0) return -1;
    n = strlen(src);
    if (n >= size) {
        dst[0] = '\0';
        return -1;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

void mf_str_upper(char *s) {
    for (; *s; s++) *s = (char)toupper((unsigned char)*s);
}

int mf_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out) {
    char *end;
    long long v;
    if (s == NULL || *s == '\0' || isspace((unsigned char)*s)) return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) return -1;
    *out = v;
    return 0;
}

int mf_parse_bool(const char *s, int *out) {
    static const char *yes[] = {"1", "true", "yes", "on"};
    static const char *no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

void mf_thread_name(const char *name) {
    char buf[16];
    snprintf(buf, sizeof(buf), "%s", name);
    pthread_setname_np(pthread_self(), buf);
}

int64_t mf_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms) {
    int64_t d = base_ms;
    int64_t jitter;
    for (int i = 0; i < attempt && d < cap_ms; i++) d *= 2;
    if (d > cap_ms) d = cap_ms;
    jitter = d / 5;
    if (jitter > 0) d += (rand() % (2 * jitter + 1)) - jitter;
    if (d > cap_ms) d = cap_ms;
    return d < 1 ? 1 : d;
}

int mf_put(char **p, const char *end, const char *s, size_t len) {
    if (end < *p || (size_t)(end - *p) < len) return -1;
    memcpy(*p, s, len);
    *p += len;
    return 0;
}

int mf_put_str(char **p, const char *end, const char *s) {
    return mf_put(p, end, s, strlen(s));
}

int mf_put_i64(char **p, const char *end, int64_t v) {
    char digits[24];
    int k = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        digits[sizeof(digits) - 1 - k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0) digits[sizeof(digits) - 1 - k++] = '-';
    return mf_put(p, end, digits + sizeof(digits) - k, (size_t)k);
}
