/* status.c: names of the mf_status codes. */
#include "mf/status.h"

const char *mf_status_str(mf_status s) {
    switch (s) {
    case MF_OK: return "ok";
    case MF_ERR: return "error";
    case MF_ERR_INVALID_ARG: return "invalid argument";
    case MF_ERR_CONFIG: return "configuration error";
    case MF_ERR_PARSE: return "parse error";
    case MF_ERR_IO: return "i/o error";
    case MF_ERR_TIMEOUT: return "timeout";
    case MF_ERR_CLOSED: return "closed";
    case MF_ERR_NATS: return "nats error";
    case MF_ERR_DB: return "database error";
    case MF_ERR_NOT_FOUND: return "not found";
    case MF_ERR_FULL: return "full";
    case MF_STATUS_COUNT: break;
    }
    return "unknown status";
}
