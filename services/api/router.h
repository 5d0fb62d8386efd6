/* router.h: maps (method, path) to a route of docs/design.md section 7, or to the HTTP error that
 * answers it (404 unknown route, 405 wrong method with the Allow list, 400 malformed symbol
 * or exchange). Whether an exchange is *known* is decided later, against the live set.
 * Pure code, thread-safe. */
#ifndef API_ROUTER_H
#define API_ROUTER_H

#include <stddef.h>

#include "mf/tick.h"

typedef enum api_route_kind {
    API_R_NONE = 0,
    API_R_LATEST,
    API_R_HIGHEST,
    API_R_LOWEST,
    API_R_AVERAGE,
    API_R_MODE_GET,
    API_R_MODE_SET,
    API_R_HEALTH,
    API_R_OPENAPI,
    API_R_PING, /* hidden no-work route for benchmarks */
} api_route_kind;

typedef struct api_route {
    api_route_kind kind;
    char exchange[MF_NAME_MAX + 1]; /* as written; "" = all exchanges */
    char symbol[MF_NAME_MAX + 1];   /* upper-cased */
    char mode[8];                   /* "test" / "live" for API_R_MODE_SET */
} api_route;

typedef enum api_route_result {
    API_ROUTE_OK = 0,
    API_ROUTE_NOT_FOUND,  /* 404 */
    API_ROUTE_BAD_METHOD, /* 405; `allow` holds the methods */
    API_ROUTE_BAD_INPUT,  /* 400; `err` holds the reason */
} api_route_result;

/* Parses a request. `path` is the URL path without the query string. HEAD is accepted where
 * GET is. On API_ROUTE_BAD_METHOD, allow receives e.g. "GET, HEAD"; on API_ROUTE_BAD_INPUT
 * err receives one line for the client. */
api_route_result api_route_parse(const char *method,
                                 const char *path,
                                 api_route *out,
                                 char *allow,
                                 size_t allowlen,
                                 char *err,
                                 size_t errlen);

/* 1 when s is a valid symbol: [A-Za-z0-9]{2,20} (the feed grammar, any case). */
int api_symbol_valid(const char *s);

#endif
