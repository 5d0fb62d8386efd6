/* status.h: the one status enum every marketflow function returns.
 *
 * Library errors (nats.c, libpq, hiredis, jansson) are translated into these codes where the
 * library is called, after logging the library's own text once. */
#ifndef MF_STATUS_H
#define MF_STATUS_H

typedef enum mf_status {
    MF_OK = 0,
    MF_ERR,             /* unspecified failure; prefer a specific code */
    MF_ERR_INVALID_ARG, /* caller bug: NULL or out-of-range argument */
    MF_ERR_CONFIG,      /* bad configuration value or flag */
    MF_ERR_PARSE,       /* malformed input (JSON, line, number) */
    MF_ERR_IO,          /* socket or file error */
    MF_ERR_TIMEOUT,     /* a bounded wait ran out */
    MF_ERR_CLOSED,      /* the object was closed or stopped */
    MF_ERR_NATS,        /* nats.c returned != NATS_OK (logged at the boundary) */
    MF_ERR_DB,          /* libpq / hiredis failure */
    MF_ERR_NOT_FOUND,   /* no such key, stream, row */
    MF_ERR_FULL,        /* a bounded buffer is full */
    MF_STATUS_COUNT     /* keep last */
} mf_status;

/* Returns a static, human-readable name for `s` ("ok", "parse error", ...). Never NULL. */
const char *mf_status_str(mf_status s);

#endif
