/* fmt.c: mf_fmt_double, the shortest of %.15g, %.16g, %.17g that strtod reads back bit for
 * bit (declared in mf/tick.h). On the hot paths (every tick the generator writes and the
 * collector publishes) snprintf + strtod up to three times cost ~800 ns, so values in
 * [1e-3, 1e14) that are not powers of two are formatted exactly with integer arithmetic:
 *
 * x = m * 2^-s with m < 2^53. For P significant digits and decimal exponent E the %.Pg digits
 * are N = round_half_even(x * 10^k), k = P - 1 - E, computed exactly as (m * 10^k) >> s in
 * unsigned __int128. N round-trips when |N * 10^-k - x| < half an ulp (or equal and m even,
 * strtod rounding half to even), also checked exactly: |N * 2^s - m * 10^k| * 2 < 10^k. The
 * range keeps every product within 128 bits; powers of two (asymmetric neighbours) and
 * everything else take the snprintf path. Unit tests compare both paths byte for byte over
 * millions of values. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf/tick.h"

/* The reference definition, used outside the fast range. */
static int fmt_double_slow(char *buf, size_t size, double x) {
    for (int prec = 15; prec <= 17; prec++) {
        int n = snprintf(buf, size, "%.*g", prec, x);
        if (n < 0 || (size_t)n >= size) return -1;
        if (prec == 17 || strtod(buf, NULL) == x) return n;
    }
    return -1;
}

typedef unsigned __int128 u128;

static const uint64_t POW10[20] = {1ULL,
                                   10ULL,
                                   100ULL,
                                   1000ULL,
                                   10000ULL,
                                   100000ULL,
                                   1000000ULL,
                                   10000000ULL,
                                   100000000ULL,
                                   1000000000ULL,
                                   10000000000ULL,
                                   100000000000ULL,
                                   1000000000000ULL,
                                   10000000000000ULL,
                                   100000000000000ULL,
                                   1000000000000000ULL,
                                   10000000000000000ULL,
                                   100000000000000000ULL,
                                   1000000000000000000ULL,
                                   10000000000000000000ULL};

/* floor(m * 10^k / 2^s) and the rounding decision (half to even). */
static uint64_t round_digits(uint64_t m, int s, int k) {
    u128 num = (u128)m * POW10[k];
    u128 f = num >> s;
    u128 rem = num & (((u128)1 << s) - 1);
    u128 half = (u128)1 << (s - 1);
    if (rem > half || (rem == half && (f & 1))) f++;
    return (uint64_t)f;
}

/* 1 when N * 10^-k reads back as m * 2^-s (m not a power of two). */
static int round_trips(uint64_t n, int k, uint64_t m, int s) {
    u128 a = (u128)n << s;
    u128 b = (u128)m * POW10[k];
    u128 twice = 2 * (a > b ? a - b : b - a); /* in units where half an ulp is 10^k / 2 */
    return twice < POW10[k] || (twice == POW10[k] && (m & 1) == 0);
}

/* Digits of x at precision p: sets *n (p digits) and *e (decimal exponent). */
static void digits_at(uint64_t m, int s, int e_guess, int p, uint64_t *n, int *e) {
    int e10 = e_guess;
    for (;;) {
        int k = p - 1 - e10;
        uint64_t fl = (uint64_t)(((u128)m * POW10[k]) >> s);
        if (fl >= POW10[p]) {
            e10++;
        } else if (fl < POW10[p - 1]) {
            e10--;
        } else {
            uint64_t r = round_digits(m, s, k);
            if (r == POW10[p]) { /* 9.99..5 rounded up to the next power of ten */
                r = POW10[p - 1];
                e10++;
            }
            *n = r;
            *e = e10;
            return;
        }
    }
}

/* %g in fixed notation (-4 <= e < p), trailing zeros removed. */
static int emit_fixed(char *buf, size_t size, uint64_t n, int p, int e) {
    char dig[20];
    char out[48];
    int len = 0, last;
    for (int i = p - 1; i >= 0; i--) {
        dig[i] = (char)('0' + n % 10);
        n /= 10;
    }
    last = p - 1;
    while (last > 0 && dig[last] == '0' && last > e) last--;
    if (e >= 0) {
        for (int i = 0; i <= e; i++) out[len++] = dig[i];
        if (last > e) {
            out[len++] = '.';
            for (int i = e + 1; i <= last; i++) out[len++] = dig[i];
        }
    } else {
        out[len++] = '0';
        out[len++] = '.';
        for (int i = 0; i < -e - 1; i++) out[len++] = '0';
        for (int i = 0; i <= last; i++) out[len++] = dig[i];
    }
    if ((size_t)len >= size) return -1;
    memcpy(buf, out, (size_t)len);
    buf[len] = '\0';
    return len;
}

int mf_fmt_double(char *buf, size_t size, double x) {
    uint64_t bits, m, n;
    int s, e10, e_guess;
    if (!(x >= 1e-3 && x < 1e14)) return fmt_double_slow(buf, size, x);
    memcpy(&bits, &x, sizeof(bits));
    m = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
    s = 1075 - (int)((bits >> 52) & 0x7ff);
    if (m == (1ULL << 52)) return fmt_double_slow(buf, size, x);
    e_guess = (int)floor(log10(x));
    for (int p = 15; p <= 17; p++) {
        digits_at(m, s, e_guess, p, &n, &e10);
        if (p == 17 || round_trips(n, p - 1 - e10, m, s)) return emit_fixed(buf, size, n, p, e10);
    }
    return -1;
}
