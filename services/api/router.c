/* router.c: the route table of docs/design.md section 7. */
#include "router.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mf/util.h"

#define MAX_SEGS 5
#define SEG_MAX 64

typedef struct segs {
    int n;
    char s[MAX_SEGS][SEG_MAX];
} segs;

/* Splits "/a/b/c" into segments. -1 when there are too many, one is too long, or one is
 * empty (double or trailing slashes are not routes). */
static int split_path(const char *path, segs *out) {
    const char *p = path;
    out->n = 0;
    if (*p != '/') return -1;
    if (p[1] == '\0') return 0;
    while (*p == '/') {
        const char *start = ++p;
        size_t len;
        while (*p && *p != '/') p++;
        len = (size_t)(p - start);
        if (len == 0 || len >= SEG_MAX || out->n >= MAX_SEGS) return -1;
        memcpy(out->s[out->n], start, len);
        out->s[out->n][len] = '\0';
        out->n++;
    }
    return *p == '\0' ? 0 : -1;
}

int api_symbol_valid(const char *s) {
    size_t n = strlen(s);
    if (n < 2 || n > 20) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return 0;
    }
    return 1;
}

static int is_get(const char *m) {
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

static api_route_result method_check(int ok, const char *allowed, char *allow, size_t allowlen) {
    if (ok) return API_ROUTE_OK;
    snprintf(allow, allowlen, "%s", allowed);
    return API_ROUTE_BAD_METHOD;
}

static api_route_kind price_kind(const char *s) {
    if (strcmp(s, "latest") == 0) return API_R_LATEST;
    if (strcmp(s, "highest") == 0) return API_R_HIGHEST;
    if (strcmp(s, "lowest") == 0) return API_R_LOWEST;
    if (strcmp(s, "average") == 0) return API_R_AVERAGE;
    return API_R_NONE;
}

/* /prices/<kind>/[<exchange>/]<symbol> */
static api_route_result parse_prices(const char *method,
                                     const segs *sg,
                                     api_route *out,
                                     char *allow,
                                     size_t allowlen,
                                     char *err,
                                     size_t errlen) {
    const char *ex = "", *sym;
    api_route_result r;
    out->kind = sg->n >= 2 ? price_kind(sg->s[1]) : API_R_NONE;
    if (out->kind == API_R_NONE || sg->n < 3 || sg->n > 4) return API_ROUTE_NOT_FOUND;
    r = method_check(is_get(method), "GET, HEAD", allow, allowlen);
    if (r != API_ROUTE_OK) return r;
    if (sg->n == 4) ex = sg->s[2];
    sym = sg->s[sg->n - 1];
    if (*ex && !mf_token_valid(ex)) {
        snprintf(err, errlen, "malformed exchange '%.40s'; expected 1-32 of [A-Za-z0-9_-] or 'all'",
                 ex);
        return API_ROUTE_BAD_INPUT;
    }
    if (!api_symbol_valid(sym)) {
        snprintf(err, errlen,
                 "malformed symbol '%.40s'; expected 2-20 letters or digits "
                 "(case-insensitive), e.g. BTCUSDT",
                 sym);
        return API_ROUTE_BAD_INPUT;
    }
    if (strcasecmp(ex, "all") == 0) ex = "";
    mf_strlcpy(out->exchange, ex, sizeof(out->exchange));
    mf_strlcpy(out->symbol, sym, sizeof(out->symbol));
    mf_str_upper(out->symbol);
    return API_ROUTE_OK;
}

static api_route_result
parse_mode(const char *method, const segs *sg, api_route *out, char *allow, size_t allowlen) {
    if (sg->n == 1) {
        out->kind = API_R_MODE_GET;
        return method_check(is_get(method), "GET, HEAD", allow, allowlen);
    }
    if (sg->n != 2 || (strcmp(sg->s[1], "test") != 0 && strcmp(sg->s[1], "live") != 0))
        return API_ROUTE_NOT_FOUND;
    out->kind = API_R_MODE_SET;
    mf_strlcpy(out->mode, sg->s[1], sizeof(out->mode));
    return method_check(strcmp(method, "POST") == 0, "POST", allow, allowlen);
}

static api_route_result
parse_single(const char *method, const char *name, api_route *out, char *allow, size_t allowlen) {
    if (strcmp(name, "health") == 0)
        out->kind = API_R_HEALTH;
    else if (strcmp(name, "openapi.json") == 0)
        out->kind = API_R_OPENAPI;
    else if (strcmp(name, "ping") == 0)
        out->kind = API_R_PING;
    else
        return API_ROUTE_NOT_FOUND;
    return method_check(is_get(method), "GET, HEAD", allow, allowlen);
}

api_route_result api_route_parse(const char *method,
                                 const char *path,
                                 api_route *out,
                                 char *allow,
                                 size_t allowlen,
                                 char *err,
                                 size_t errlen) {
    segs sg;
    memset(out, 0, sizeof(*out));
    if (allowlen) allow[0] = '\0';
    if (errlen) err[0] = '\0';
    if (method == NULL || path == NULL || split_path(path, &sg) != 0 || sg.n == 0)
        return API_ROUTE_NOT_FOUND;
    if (strcmp(sg.s[0], "prices") == 0)
        return parse_prices(method, &sg, out, allow, allowlen, err, errlen);
    if (strcmp(sg.s[0], "mode") == 0) return parse_mode(method, &sg, out, allow, allowlen);
    if (sg.n == 1) return parse_single(method, sg.s[0], out, allow, allowlen);
    return API_ROUTE_NOT_FOUND;
}
