/* xsum.h: exact, order-independent sums of doubles.
 *
 * Rollup partials from several aggregators must merge to exactly what one pass over the raw
 * ticks gives, in any order. Plain double addition is not associative, so sums are kept as
 * a non-overlapping expansion (Shewchuk; the partials behind Python's math.fsum): the exact
 * mathematical sum of the inputs is held without rounding, and mf_xsum_value() rounds it
 * once, correctly (round-half-even). Hence value(a+b+c) == math.fsum([a, b, c]) bit for bit,
 * whatever the order of adds and merges.
 *
 * Plain data: copy it by assignment. Not thread-safe (owned by one worker). */
#ifndef MF_XSUM_H
#define MF_XSUM_H

#include <jansson.h>
#include <stdint.h>

#include "mf/status.h"

#define MF_XSUM_MAX 40 /* enough for any sum of finite doubles below ~1e300 */

typedef struct mf_xsum {
    int n;                 /* parts in use */
    double p[MF_XSUM_MAX]; /* increasing magnitude, non-overlapping */
} mf_xsum;

void mf_xsum_init(mf_xsum *s);
/* Adds a finite value. Non-finite values are ignored (callers validate earlier). */
void mf_xsum_add(mf_xsum *s, double x);
/* Adds every part of `b` into `a` (exact). */
void mf_xsum_merge(mf_xsum *a, const mf_xsum *b);
/* The exact sum, correctly rounded to the nearest double. */
double mf_xsum_value(const mf_xsum *s);
/* 1 when both hold the same exact value. */
int mf_xsum_equal(const mf_xsum *a, const mf_xsum *b);

/* JSON form: an array of the parts, e.g. [1.2e-17, 100143.27730216153]. New reference. */
json_t *mf_xsum_to_json(const mf_xsum *s);
/* Parses that array (or a single number) into `s`. MF_ERR_PARSE on anything else. */
mf_status mf_xsum_from_json(const json_t *j, mf_xsum *s);

/* Writes the exact value as a decimal string (every double is a finite decimal), for
 * PostgreSQL NUMERIC columns. Returns the length, or -1 when it did not fit in `size`. */
int mf_xsum_to_decimal(const mf_xsum *s, char *buf, size_t size);

/* ---- compact form ----------------------------------------------------------------------
 *
 * The same exact sum in 32 bytes instead of 328: up to MF_XSUM_SMALL_INLINE parts inline (a sum
 * of prices needs 2-3), spilling to a heap mf_xsum once it needs more. Every add goes through
 * mf_xsum_add on the very parts an mf_xsum would hold, so an mf_xsum_small fed the same adds
 * and merges in the same order holds the same parts, bit for bit, spilled or not.
 *
 * Caller storage that owns its spill: release it with mf_xsum_small_cleanup. Copy it with
 * mf_xsum_small_copy, never by assignment (two copies would share the spill). Owned by one
 * thread. */
#define MF_XSUM_SMALL_INLINE 3

typedef struct mf_xsum_small {
    int32_t n; /* parts inline (0..MF_XSUM_SMALL_INLINE); -1: spilled to u.big */
    union {
        double p[MF_XSUM_SMALL_INLINE];
        mf_xsum *big; /* owned */
    } u;
} mf_xsum_small;

void mf_xsum_small_init(mf_xsum_small *s);
/* Frees the spill, if any; `s` is then the empty sum again. */
void mf_xsum_small_cleanup(mf_xsum_small *s);
/* mf_xsum_add. Spilling allocates (mf_xmalloc: aborts when out of memory). */
void mf_xsum_small_add(mf_xsum_small *s, double x);
/* mf_xsum_merge: adds b's parts into a, in b's order (a and b may be the same). */
void mf_xsum_small_merge(mf_xsum_small *a, const mf_xsum_small *b);
/* Makes `dst` (empty, or cleaned up) a copy of `src` with its own spill. */
void mf_xsum_small_copy(mf_xsum_small *dst, const mf_xsum_small *src);
/* The full expansion: the same parts, in the same order. */
void mf_xsum_small_get(const mf_xsum_small *s, mf_xsum *out);

#endif
