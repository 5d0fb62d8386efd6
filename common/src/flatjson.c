/* flatjson.c: strict scanner for one flat JSON object (see flatjson.h). */
#include "flatjson.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FJ_MAX_DEPTH 32
#define FJ_MAX_STR 256 /* decoded strings longer than this are rejected */

typedef struct scanner {
    const char *p;
    const char *end;
    char scratch[2][FJ_MAX_STR]; /* decoded key and value when they hold escapes */
} scanner;

static void skip_ws(scanner *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Puts a code point as UTF-8; returns bytes written or -1. */
static int put_utf8(char *out, size_t room, unsigned cp) {
    if (cp < 0x80 && room >= 1) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800 && room >= 2) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000 && room >= 3) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (room >= 4) {
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
    }
    return -1;
}

static int read_hex4(scanner *s, unsigned *cp) {
    *cp = 0;
    if (s->end - s->p < 4) return -1;
    for (int i = 0; i < 4; i++) {
        int h = hexval(s->p[i]);
        if (h < 0) return -1;
        *cp = (*cp << 4) | (unsigned)h;
    }
    s->p += 4;
    return 0;
}

/* Decodes one escape after the backslash into out; returns bytes written or -1. */
static int decode_escape(scanner *s, char *out, size_t room) {
    unsigned cp, lo;
    char c;
    if (s->p >= s->end || room == 0) return -1;
    c = *s->p++;
    switch (c) {
    case '"': *out = '"'; return 1;
    case '\\': *out = '\\'; return 1;
    case '/': *out = '/'; return 1;
    case 'b': *out = '\b'; return 1;
    case 'f': *out = '\f'; return 1;
    case 'n': *out = '\n'; return 1;
    case 'r': *out = '\r'; return 1;
    case 't': *out = '\t'; return 1;
    case 'u': break;
    default: return -1;
    }
    if (read_hex4(s, &cp) != 0) return -1;
    if (cp >= 0xD800 && cp <= 0xDBFF) { /* a surrogate pair must follow */
        if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u') return -1;
        s->p += 2;
        if (read_hex4(s, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF) return -1;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return -1;
    }
    return put_utf8(out, room, cp);
}

/* Reads a string starting at the opening quote. Slices the input when there are no
 * escapes, else decodes into scratch (NULL scratch: validate only). */
static int read_string(scanner *s, char *scratch, const char **out, size_t *outlen) {
    const char *start;
    size_t n = 0;
    int escaped = 0;
    s->p++; /* opening quote */
    start = s->p;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            if (!escaped) {
                *out = start;
                *outlen = (size_t)(s->p - start);
            } else {
                *out = scratch;
                *outlen = n;
            }
            s->p++;
            return 0;
        }
        if (c < 0x20) return -1;
        if (c == '\\') {
            char tmp[4];
            int w;
            if (!escaped) { /* copy what came before the first escape */
                size_t before = (size_t)(s->p - start);
                if (scratch && before > FJ_MAX_STR) return -1;
                if (scratch) memcpy(scratch, start, before);
                n = before;
                escaped = 1;
            }
            s->p++;
            w = decode_escape(s, tmp, sizeof(tmp));
            if (w < 0) return -1;
            if (scratch) {
                if (n + (size_t)w > FJ_MAX_STR) return -1;
                memcpy(scratch + n, tmp, (size_t)w);
            }
            n += (size_t)w;
            continue;
        }
        if (escaped && scratch) {
            if (n + 1 > FJ_MAX_STR) return -1;
            scratch[n] = (char)c;
        }
        if (escaped) n++;
        s->p++;
    }
    return -1;
}

static int read_digits(scanner *s) {
    const char *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
    return s->p > start ? 0 : -1;
}

static int read_number(scanner *s, fj_value *v) {
    const char *start = s->p;
    v->is_integer = 1;
    if (s->p < s->end && *s->p == '-') s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (read_digits(s) != 0)
        return -1;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        v->is_integer = 0;
        if (read_digits(s) != 0) return -1;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        v->is_integer = 0;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) s->p++;
        if (read_digits(s) != 0) return -1;
    }
    v->type = FJ_NUMBER;
    v->s = start;
    v->len = (size_t)(s->p - start);
    return 0;
}

static int read_literal(scanner *s, const char *lit, fj_type type, fj_value *v) {
    size_t n = strlen(lit);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0) return -1;
    s->p += n;
    v->type = type;
    v->s = NULL;
    v->len = 0;
    return 0;
}

static int skip_value(scanner *s, int depth);

static int skip_container(scanner *s, int depth) {
    char close = *s->p == '{' ? '}' : ']';
    int is_obj = close == '}';
    if (depth > FJ_MAX_DEPTH) return -1;
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    for (;;) {
        if (is_obj) {
            const char *k;
            size_t kl;
            skip_ws(s);
            if (s->p >= s->end || *s->p != '"' || read_string(s, NULL, &k, &kl) != 0) return -1;
            skip_ws(s);
            if (s->p >= s->end || *s->p++ != ':') return -1;
        }
        if (skip_value(s, depth + 1) != 0) return -1;
        skip_ws(s);
        if (s->p >= s->end) return -1;
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p++ != close) return -1;
        return 0;
    }
}

static int skip_value(scanner *s, int depth) {
    fj_value v;
    const char *str;
    size_t len;
    skip_ws(s);
    if (s->p >= s->end) return -1;
    switch (*s->p) {
    case '"': return read_string(s, NULL, &str, &len);
    case '{':
    case '[': return skip_container(s, depth);
    case 't': return read_literal(s, "true", FJ_TRUE, &v);
    case 'f': return read_literal(s, "false", FJ_FALSE, &v);
    case 'n': return read_literal(s, "null", FJ_NULL, &v);
    default: return read_number(s, &v);
    }
}

static int read_value(scanner *s, fj_value *v) {
    skip_ws(s);
    if (s->p >= s->end) return -1;
    switch (*s->p) {
    case '"': v->type = FJ_STRING; return read_string(s, s->scratch[1], &v->s, &v->len);
    case '{':
    case '[':
        v->type = FJ_NESTED;
        v->s = NULL;
        v->len = 0;
        return skip_container(s, 1);
    case 't': return read_literal(s, "true", FJ_TRUE, v);
    case 'f': return read_literal(s, "false", FJ_FALSE, v);
    case 'n': return read_literal(s, "null", FJ_NULL, v);
    default: return read_number(s, v);
    }
}

int mf__fj_scan(const char *buf, size_t len, fj_member_fn fn, void *ctx) {
    scanner s;
    s.p = buf;
    s.end = buf + len;
    skip_ws(&s);
    if (s.p >= s.end || *s.p++ != '{') return -1;
    skip_ws(&s);
    if (s.p < s.end && *s.p == '}') {
        s.p++;
        goto tail;
    }
    for (;;) {
        const char *key;
        size_t klen;
        fj_value v;
        int rc;
        skip_ws(&s);
        if (s.p >= s.end || *s.p != '"') return -1;
        if (read_string(&s, s.scratch[0], &key, &klen) != 0) return -1;
        skip_ws(&s);
        if (s.p >= s.end || *s.p++ != ':') return -1;
        if (read_value(&s, &v) != 0) return -1;
        rc = fn(ctx, key, klen, &v);
        if (rc != 0) return rc;
        skip_ws(&s);
        if (s.p >= s.end) return -1;
        if (*s.p == ',') {
            s.p++;
            continue;
        }
        if (*s.p++ != '}') return -1;
        break;
    }
tail:
    skip_ws(&s);
    return s.p == s.end ? 0 : -1;
}

int mf__fj_double(const fj_value *v, double *out) {
    char tmp[400];
    char *end;
    if (v->type != FJ_NUMBER || v->len == 0 || v->len >= sizeof(tmp)) return -1;
    memcpy(tmp, v->s, v->len);
    tmp[v->len] = '\0';
    *out = strtod(tmp, &end);
    return end == tmp + v->len ? 0 : -1;
}

int mf__fj_int64(const fj_value *v, long long *out) {
    char tmp[32];
    char *end;
    if (v->type != FJ_NUMBER || !v->is_integer || v->len == 0 || v->len >= sizeof(tmp)) return -1;
    memcpy(tmp, v->s, v->len);
    tmp[v->len] = '\0';
    errno = 0;
    *out = strtoll(tmp, &end, 10);
    return (errno == 0 && end == tmp + v->len) ? 0 : -1;
}
