/* log.c: logfmt lines on stderr, one fprintf each. */
#include "mf/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mf/util.h"

mf_log_level mf_log_min_level = MF_LOG_INFO;

static char g_service[32] = "marketflow";
static char g_instance[64] = "";
static FILE *g_stream = NULL;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void mf_log_init(const char *service, const char *instance, mf_log_level min_level) {
    snprintf(g_service, sizeof(g_service), "%s", service ? service : "marketflow");
    snprintf(g_instance, sizeof(g_instance), "%s", instance ? instance : "");
    mf_log_min_level = min_level;
}

int mf_log_level_parse(const char *s, mf_log_level *out) {
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (mf_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = MF_LOG_WARN;
        return 0;
    }
    return -1;
}

void mf_log_set_stream(FILE *f) {
    g_stream = f;
}

/* Appends `s` as a logfmt value: quoted, with " and \ escaped and control bytes as \n, \t or
 * \xNN, so one event is always one line whatever the message holds. */
static size_t put_quoted(char *buf, size_t size, size_t pos, const char *s) {
    static const char hex[] = "0123456789abcdef";
    if (pos + 1 < size) buf[pos++] = '"';
    for (; *s && pos + 5 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[pos++] = '\\';
            buf[pos++] = (char)c;
        } else if (c == '\n') {
            buf[pos++] = '\\';
            buf[pos++] = 'n';
        } else if (c == '\t') {
            buf[pos++] = '\\';
            buf[pos++] = 't';
        } else if (c < 0x20 || c == 0x7f) {
            buf[pos++] = '\\';
            buf[pos++] = 'x';
            buf[pos++] = hex[c >> 4];
            buf[pos++] = hex[c & 15];
        } else {
            buf[pos++] = (char)c;
        }
    }
    if (pos + 1 < size) buf[pos++] = '"';
    return pos;
}

size_t mf_log_format(char *buf,
                     size_t size,
                     long long now_ms,
                     mf_log_level level,
                     const char *file,
                     int line,
                     const char *msg) {
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;
    size_t pos;
    int n;
    const char *base = strrchr(file, '/');

    if (size < 64) return 0;
    base = base ? base + 1 : file;
    gmtime_r(&secs, &tm);
    n = snprintf(buf, size,
                 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s svc=%s%s%s src=%s:%d msg=",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(now_ms % 1000), level_names[level], g_service, g_instance[0] ? " inst=" : "",
                 g_instance, base, line);
    pos = (n < 0 || (size_t)n >= size) ? size - 2 : (size_t)n;
    pos = put_quoted(buf, size, pos, msg);
    if (pos >= size - 1) pos = size - 2;
    buf[pos++] = '\n';
    buf[pos] = '\0';
    return pos;
}

static void vwrite(mf_log_level level,
                   const char *file,
                   int line,
                   long long suppressed,
                   const char *fmt,
                   va_list ap) {
    char msg[2048];
    char out[4096];
    size_t len;
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n > 0 && suppressed > 0 && (size_t)n < sizeof(msg))
        snprintf(msg + n, sizeof(msg) - (size_t)n, " suppressed=%lld", suppressed);
    len = mf_log_format(out, sizeof(out), mf_now_ms(), level, file, line, msg);
    fwrite(out, 1, len, g_stream ? g_stream : stderr);
}

void mf_log_write(mf_log_level level, const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vwrite(level, file, line, 0, fmt, ap);
    va_end(ap);
}

void mf_log_write_suppressed(mf_log_level level,
                             const char *file,
                             int line,
                             long long suppressed,
                             const char *fmt,
                             ...) {
    va_list ap;
    va_start(ap, fmt);
    vwrite(level, file, line, suppressed, fmt, ap);
    va_end(ap);
}

int mf_log_limiter_pass(mf_log_limiter *lim, long long interval_ms, long long *suppressed) {
    long long now = mf_mono_ms();
    int pass = 0;
    /* A tiny spin lock keeps the limiter a zero-initialised static per call site. */
    while (__atomic_exchange_n(&lim->lock, 1, __ATOMIC_ACQUIRE)) {
    }
    if (now >= lim->next_ms) {
        pass = 1;
        *suppressed = lim->suppressed;
        lim->suppressed = 0;
        lim->next_ms = now + interval_ms;
    } else {
        lim->suppressed++;
    }
    __atomic_store_n(&lim->lock, 0, __ATOMIC_RELEASE);
    return pass;
}
