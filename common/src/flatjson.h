/* flatjson.h (internal): an allocation-free scanner for one flat JSON object, the hot-path
 * decoder behind the feed line and bus tick parsers.
 *
 * It accepts exactly the JSON grammar (RFC 8259) for the object, its strings and numbers;
 * values that are objects or arrays are validated and skipped. Keys and string values are
 * borrowed slices of the input; strings holding escapes are decoded into the caller's
 * scratch space. */
#ifndef MF_FLATJSON_H
#define MF_FLATJSON_H

#include <stddef.h>

typedef enum fj_type { FJ_STRING, FJ_NUMBER, FJ_TRUE, FJ_FALSE, FJ_NULL, FJ_NESTED } fj_type;

typedef struct fj_value {
    fj_type type;
    const char *s; /* string (decoded) or number text; not NUL-terminated */
    size_t len;
    int is_integer; /* number without fraction or exponent */
} fj_value;

/* Called per member; returns 0 to go on, non-zero to stop with that code. */
typedef int (*fj_member_fn)(void *ctx, const char *key, size_t klen, const fj_value *v);

/* Scans buf[len]. Returns 0 when the whole input is one valid object (whitespace around it
 * allowed), -1 on a syntax error, or the callback's non-zero code. */
int mf__fj_scan(const char *buf, size_t len, fj_member_fn fn, void *ctx);

/* Converts a number value: strtod (exact round trip) and, for integers, strtoll. Return 0
 * or -1 when it does not fit. */
int mf__fj_double(const fj_value *v, double *out);
int mf__fj_int64(const fj_value *v, long long *out);

#endif
