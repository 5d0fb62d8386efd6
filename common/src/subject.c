/* subject.c: builders and the parser of the bus subjects (see subject.h). Builders append
 * with mf_put (no printf) because the tick subject is built once per tick. */
#include "mf/subject.h"

#include <string.h>

#include "mf/util.h"

static const char *const family_token[MF_SUBJECT_FAMILY_COUNT] = {
    [MF_SUBJECT_TICKS] = "ticks",
    [MF_SUBJECT_ROLLUPS_1S] = "rollups.1s",
    [MF_SUBJECT_ROLLUPS_1M] = "rollups.1m",
    [MF_SUBJECT_LATEST] = "latest",
    [MF_SUBJECT_DEPTH] = "depth",
    [MF_SUBJECT_DEPTH_SNAPSHOT] = "depth.snapshot",
    [MF_SUBJECT_BOOK] = "book",
    [MF_SUBJECT_COVERAGE] = "coverage",
    [MF_SUBJECT_STATS] = "stats",
    [MF_SUBJECT_ROLLUPS] = "rollups",
    [MF_SUBJECT_CANDLES] = "candles",
    [MF_SUBJECT_CONTROL] = "control",
    [MF_SUBJECT_STATUS] = "status",
};

const char *mf_subject_family_str(mf_subject_family f) {
    return (unsigned)f < MF_SUBJECT_FAMILY_COUNT ? family_token[f] : NULL;
}

static int token_char(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* Length of the token at s (up to len bytes or its NUL) when it is valid and at most max
 * long, else -1. */
static int token_len(const char *s, size_t len, size_t max) {
    size_t n = 0;
    for (; n < len && s[n] != '\0'; n++)
        if (n >= max || !token_char((unsigned char)s[n])) return -1;
    return n > 0 ? (int)n : -1;
}

/* Appends a validated token, copying and checking in one pass. */
static int put_token(char **p, const char *end, const char *s, size_t max) {
    char *q = *p;
    size_t n = 0;
    if (s == NULL) return -1;
    for (; s[n] != '\0'; n++) {
        if (n >= max || q + n >= end || !token_char((unsigned char)s[n])) return -1;
        q[n] = s[n];
    }
    if (n == 0) return -1;
    *p = q + n;
    return 0;
}

/* Starts buf with "<prefix>.<family>.". On success *p is the write position and *end the
 * last usable byte (one is kept for the NUL). */
static int
start(char *buf, size_t size, const char *prefix, mf_subject_family f, char **p, const char **end) {
    const char *tok = mf_subject_family_str(f);
    if (buf == NULL || size == 0 || prefix == NULL || prefix[0] == '\0' || tok == NULL) return -1;
    *p = buf;
    *end = buf + size - 1;
    if (mf_put_str(p, *end, prefix) || mf_put(p, *end, ".", 1) || mf_put_str(p, *end, tok) ||
        mf_put(p, *end, ".", 1))
        return -1;
    return 0;
}

static int finish(char *buf, char *p) {
    *p = '\0';
    return (int)(p - buf);
}

int mf_subject_base(char *buf, size_t size, const char *prefix, mf_subject_family f) {
    char *p;
    const char *end;
    if (start(buf, size, prefix, f, &p, &end) != 0) return -1;
    return finish(buf, p);
}

int mf_subject_key_on(char *buf,
                      size_t size,
                      const char *base,
                      const char *exchange,
                      const char *symbol) {
    char *p = buf, *end;
    if (buf == NULL || size == 0 || base == NULL) return -1;
    end = buf + size - 1;
    if (mf_put_str(&p, end, base) || put_token(&p, end, exchange, MF_NAME_MAX) ||
        mf_put(&p, end, ".", 1) || put_token(&p, end, symbol, MF_NAME_MAX))
        return -1;
    return finish(buf, p);
}

int mf_subject_key(char *buf,
                   size_t size,
                   const char *prefix,
                   mf_subject_family f,
                   const char *exchange,
                   const char *symbol) {
    char *p;
    const char *end;
    if ((unsigned)f >= MF_SUBJECT_KEYED_COUNT || start(buf, size, prefix, f, &p, &end) != 0)
        return -1;
    if (put_token(&p, end, exchange, MF_NAME_MAX) || mf_put(&p, end, ".", 1) ||
        put_token(&p, end, symbol, MF_NAME_MAX))
        return -1;
    return finish(buf, p);
}

int mf_subject_tick(char *buf, size_t size, const char *ticks_base, const mf_tick *t) {
    return mf_subject_key_on(buf, size, ticks_base, t->exchange, t->symbol);
}

/* "<prefix>.<family>.<t1>.<t2>.<t3>" for the families with a middle token. */
static int three(char *buf,
                 size_t size,
                 const char *prefix,
                 mf_subject_family f,
                 const char *t1,
                 const char *t2,
                 const char *t3) {
    char *p;
    const char *end;
    if (start(buf, size, prefix, f, &p, &end) != 0) return -1;
    if (put_token(&p, end, t1, MF_NAME_MAX) || mf_put(&p, end, ".", 1) ||
        put_token(&p, end, t2, MF_NAME_MAX) || mf_put(&p, end, ".", 1) ||
        put_token(&p, end, t3, MF_NAME_MAX))
        return -1;
    return finish(buf, p);
}

int mf_subject_rollup(char *buf,
                      size_t size,
                      const char *prefix,
                      const char *window,
                      const char *exchange,
                      const char *symbol) {
    if (window == NULL || (strcmp(window, "1s") != 0 && strcmp(window, "1m") != 0)) return -1;
    return three(buf, size, prefix, MF_SUBJECT_ROLLUPS, window, exchange, symbol);
}

int mf_subject_candles(char *buf,
                       size_t size,
                       const char *prefix,
                       const char *interval,
                       const char *exchange,
                       const char *symbol) {
    return three(buf, size, prefix, MF_SUBJECT_CANDLES, interval, exchange, symbol);
}

int mf_subject_control_mode(char *buf, size_t size, const char *prefix) {
    char *p;
    const char *end;
    if (start(buf, size, prefix, MF_SUBJECT_CONTROL, &p, &end) != 0 || mf_put(&p, end, "mode", 4))
        return -1;
    return finish(buf, p);
}

int mf_subject_status(char *buf,
                      size_t size,
                      const char *prefix,
                      const char *service,
                      const char *instance) {
    char *p;
    const char *end;
    if (start(buf, size, prefix, MF_SUBJECT_STATUS, &p, &end) != 0) return -1;
    if (put_token(&p, end, service, MF_NAME_MAX) || mf_put(&p, end, ".", 1) ||
        put_token(&p, end, instance, MF_SUBJECT_INSTANCE_MAX))
        return -1;
    return finish(buf, p);
}

int mf_subject_all(char *buf, size_t size, const char *prefix, mf_subject_family f) {
    char *p;
    const char *end;
    if (start(buf, size, prefix, f, &p, &end) != 0 || mf_put(&p, end, ">", 1)) return -1;
    return finish(buf, p);
}

/* ---- parsing ------------------------------------------------------------------------------ */

/* Consumes `lit` followed by a dot at *s. */
static int eat(const char **s, const char *stop, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(stop - *s) <= n || memcmp(*s, lit, n) != 0 || (*s)[n] != '.') return -1;
    *s += n + 1;
    return 0;
}

/* Splits the rest into exactly two tokens "<a>.<b>" of at most amax and bmax characters. */
static int
two_tokens(const char *s, const char *stop, size_t amax, size_t bmax, mf_subject_parts *out) {
    const char *dot = memchr(s, '.', (size_t)(stop - s));
    int na, nb;
    if (dot == NULL) return -1;
    na = token_len(s, (size_t)(dot - s), amax);
    nb = token_len(dot + 1, (size_t)(stop - dot - 1), bmax);
    if (na < 0 || nb < 0 || na != dot - s || nb != stop - dot - 1) return -1;
    memcpy(out->a, s, (size_t)na);
    out->a[na] = '\0';
    memcpy(out->b, dot + 1, (size_t)nb);
    out->b[nb] = '\0';
    return 0;
}

int mf_subject_parse(const char *subject, size_t len, const char *prefix, mf_subject_parts *out) {
    static const mf_subject_family keyed[] = {MF_SUBJECT_TICKS, MF_SUBJECT_ROLLUPS_1S,
                                              MF_SUBJECT_ROLLUPS_1M, MF_SUBJECT_LATEST};
    const char *s = subject, *stop = subject + len;
    if (subject == NULL || prefix == NULL || out == NULL || eat(&s, stop, prefix) != 0) return -1;
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < sizeof(keyed) / sizeof(keyed[0]); i++) {
        const char *rest = s;
        if (eat(&rest, stop, family_token[keyed[i]]) == 0) {
            out->family = keyed[i];
            return two_tokens(rest, stop, MF_NAME_MAX, MF_NAME_MAX, out);
        }
    }
    if (eat(&s, stop, family_token[MF_SUBJECT_STATUS]) == 0) {
        out->family = MF_SUBJECT_STATUS;
        return two_tokens(s, stop, MF_NAME_MAX, MF_SUBJECT_INSTANCE_MAX, out);
    }
    if (eat(&s, stop, family_token[MF_SUBJECT_CONTROL]) == 0 && stop - s == 4 &&
        memcmp(s, "mode", 4) == 0) {
        out->family = MF_SUBJECT_CONTROL;
        return 0;
    }
    return -1;
}
