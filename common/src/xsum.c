/* xsum.c: exact sums of doubles as non-overlapping expansions (Shewchuk 1997, the algorithm
 * behind Python's math.fsum), merge, correct rounding and exact decimal output.
 *
 * Built with -ffp-contract=off (see CMakeLists.txt): a fused multiply-add would break the
 * error-free transformations below. */
#include "mf/xsum.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mf/util.h"

void mf_xsum_init(mf_xsum *s) {
    s->n = 0;
}

/* The expansion is full only for sums spanning a huge exponent range. Keeping the result
 * bounded beats growing without limit: fold the two smallest parts (an error below
 * 2^-1000 relative to the largest part for any realistic input). */
static void make_room(mf_xsum *s) {
    if (s->n < MF_XSUM_MAX) return;
    s->p[1] += s->p[0];
    memmove(&s->p[0], &s->p[1], sizeof(double) * (size_t)(s->n - 1));
    s->n--;
}

void mf_xsum_add(mf_xsum *s, double x) {
    int i = 0;
    if (!isfinite(x)) return;
    for (int j = 0; j < s->n; j++) {
        double y = s->p[j];
        double hi, lo;
        if (fabs(x) < fabs(y)) {
            double t = x;
            x = y;
            y = t;
        }
        hi = x + y;
        lo = y - (hi - x);
        if (lo != 0.0) s->p[i++] = lo;
        x = hi;
    }
    s->n = i;
    make_room(s);
    s->p[s->n++] = x;
}

void mf_xsum_merge(mf_xsum *a, const mf_xsum *b) {
    mf_xsum copy = *b; /* a and b may be the same object */
    for (int i = 0; i < copy.n; i++) mf_xsum_add(a, copy.p[i]);
}

double mf_xsum_value(const mf_xsum *s) {
    int n = s->n;
    double hi = 0.0, lo = 0.0;
    if (n == 0) return 0.0;
    hi = s->p[--n];
    while (n > 0) {
        double x = hi;
        double y = s->p[--n];
        double yr;
        hi = x + y;
        yr = hi - x;
        lo = y - yr;
        if (lo != 0.0) break;
    }
    /* Round half to even across the remaining parts: when lo is exactly half an ulp and
     * the next part has the same sign, the true sum lies beyond the halfway point. */
    if (n > 0 && ((lo < 0.0 && s->p[n - 1] < 0.0) || (lo > 0.0 && s->p[n - 1] > 0.0))) {
        double y = lo * 2.0;
        double x = hi + y;
        double yr = x - hi;
        if (y == yr) hi = x;
    }
    return hi;
}

int mf_xsum_equal(const mf_xsum *a, const mf_xsum *b) {
    mf_xsum d = *a;
    for (int i = 0; i < b->n; i++) mf_xsum_add(&d, -b->p[i]);
    for (int i = 0; i < d.n; i++)
        if (d.p[i] != 0.0) return 0;
    return 1;
}

json_t *mf_xsum_to_json(const mf_xsum *s) {
    json_t *arr = json_array();
    for (int i = 0; i < s->n; i++)
        if (s->p[i] != 0.0) json_array_append_new(arr, json_real(s->p[i]));
    return arr;
}

mf_status mf_xsum_from_json(const json_t *j, mf_xsum *s) {
    size_t i;
    json_t *v;
    mf_xsum_init(s);
    if (json_is_number(j)) {
        double x = json_number_value(j);
        if (!isfinite(x)) return MF_ERR_PARSE;
        mf_xsum_add(s, x);
        return MF_OK;
    }
    if (!json_is_array(j) || json_array_size(j) > MF_XSUM_MAX) return MF_ERR_PARSE;
    json_array_foreach(j, i, v) {
        double x;
        if (!json_is_number(v)) return MF_ERR_PARSE;
        x = json_number_value(v);
        if (!isfinite(x)) return MF_ERR_PARSE;
        mf_xsum_add(s, x);
    }
    return MF_OK;
}

/* ---- compact form --------------------------------------------------------------------- */

void mf_xsum_small_init(mf_xsum_small *s) {
    s->n = 0;
}

void mf_xsum_small_cleanup(mf_xsum_small *s) {
    if (s->n < 0) free(s->u.big);
    s->n = 0;
}

void mf_xsum_small_get(const mf_xsum_small *s, mf_xsum *out) {
    const double *p = s->n < 0 ? s->u.big->p : s->u.p;
    out->n = s->n < 0 ? s->u.big->n : s->n;
    memcpy(out->p, p, sizeof(double) * (size_t)out->n);
}

/* Stores `t` into a sum that holds no spill: inline when it fits, else on the heap. */
static void small_set(mf_xsum_small *s, const mf_xsum *t) {
    if (t->n <= MF_XSUM_SMALL_INLINE) {
        s->n = t->n;
        memcpy(s->u.p, t->p, sizeof(double) * (size_t)t->n);
        return;
    }
    s->u.big = mf_xmalloc(sizeof(mf_xsum));
    *s->u.big = *t;
    s->n = -1;
}

void mf_xsum_small_add(mf_xsum_small *s, double x) {
    mf_xsum t;
    if (s->n < 0) {
        mf_xsum_add(s->u.big, x);
        return;
    }
    mf_xsum_small_get(s, &t);
    mf_xsum_add(&t, x);
    small_set(s, &t);
}

void mf_xsum_small_merge(mf_xsum_small *a, const mf_xsum_small *b) {
    mf_xsum bs, t;
    mf_xsum_small_get(b, &bs);
    if (a->n < 0) {
        mf_xsum_merge(a->u.big, &bs);
        return;
    }
    mf_xsum_small_get(a, &t);
    mf_xsum_merge(&t, &bs);
    small_set(a, &t);
}

void mf_xsum_small_copy(mf_xsum_small *dst, const mf_xsum_small *src) {
    mf_xsum t;
    mf_xsum_small_get(src, &t);
    small_set(dst, &t);
}

/* ---- exact decimal output ------------------------------------------------------------- */

#define INT_DIGITS 320   /* DBL_MAX has 309 integer digits */
#define FRAC_DIGITS 1100 /* the smallest subnormal needs 1074 */
#define ALL_DIGITS (INT_DIGITS + FRAC_DIGITS)

/* Digits of a fixed-point magnitude: d[0] is the last fraction digit (10^-FRAC_DIGITS). */
typedef struct decimal {
    unsigned char d[ALL_DIGITS];
} decimal;

/* Adds |x| exactly: glibc prints the exact binary value when given enough digits, and a
 * double with exponent e needs at most 53 - e fraction digits. */
static void dec_add_double(decimal *acc, double x) {
    char buf[ALL_DIGITS + 8];
    int e, fd, len, pos;
    char *dot;
    frexp(x, &e);
    fd = 53 - e;
    if (fd < 0) fd = 0;
    if (fd > FRAC_DIGITS) fd = FRAC_DIGITS;
    len = snprintf(buf, sizeof(buf), "%.*f", fd, fabs(x));
    if (len <= 0 || len >= (int)sizeof(buf)) return;
    dot = strchr(buf, '.');
    pos = FRAC_DIGITS - fd; /* index of the last printed digit */
    int carry = 0;
    for (int i = len - 1; i >= 0; i--) {
        int v;
        if (&buf[i] == dot) continue;
        v = acc->d[pos] + (buf[i] - '0') + carry;
        acc->d[pos] = (unsigned char)(v % 10);
        carry = v / 10;
        pos++;
    }
    while (carry && pos < ALL_DIGITS) {
        int v = acc->d[pos] + carry;
        acc->d[pos++] = (unsigned char)(v % 10);
        carry = v / 10;
    }
}

static int dec_cmp(const decimal *a, const decimal *b) {
    for (int i = ALL_DIGITS - 1; i >= 0; i--)
        if (a->d[i] != b->d[i]) return a->d[i] < b->d[i] ? -1 : 1;
    return 0;
}

static void dec_sub(decimal *a, const decimal *b) { /* a -= b, a >= b */
    int borrow = 0;
    for (int i = 0; i < ALL_DIGITS; i++) {
        int v = a->d[i] - b->d[i] - borrow;
        borrow = v < 0;
        a->d[i] = (unsigned char)(v < 0 ? v + 10 : v);
    }
}

static int dec_print(const decimal *a, int negative, char *buf, size_t size) {
    int hi = ALL_DIGITS - 1, lo = 0;
    size_t n = 0;
    while (hi > FRAC_DIGITS && a->d[hi] == 0) hi--;
    if (hi < FRAC_DIGITS) hi = FRAC_DIGITS;
    while (lo < FRAC_DIGITS && a->d[lo] == 0) lo++;
    if (negative && n + 1 < size) buf[n++] = '-';
    for (int i = hi; i >= lo; i--) {
        if (i == FRAC_DIGITS - 1) {
            if (n + 1 >= size) return -1;
            buf[n++] = '.';
        }
        if (n + 1 >= size) return -1;
        buf[n++] = (char)('0' + a->d[i]);
    }
    buf[n] = '\0';
    return (int)n;
}

int mf_xsum_to_decimal(const mf_xsum *s, char *buf, size_t size) {
    decimal *pos = calloc(2, sizeof(decimal)); /* ~3 KB: off the stack of worker threads */
    decimal *neg;
    int negative = 0, rc;
    if (pos == NULL) return -1;
    neg = pos + 1;
    for (int i = 0; i < s->n; i++) {
        if (s->p[i] > 0.0) dec_add_double(pos, s->p[i]);
        if (s->p[i] < 0.0) dec_add_double(neg, s->p[i]);
    }
    if (dec_cmp(pos, neg) >= 0) {
        dec_sub(pos, neg);
    } else {
        dec_sub(neg, pos);
        *pos = *neg;
        negative = 1;
    }
    rc = dec_print(pos, negative, buf, size);
    free(pos);
    return rc;
}
