/* gen_fmt.h: fast number formatting for the generator's hot path.
 *
 * gen_fmt_double() produces exactly the bytes mf_fmt_double() produces (the shortest of
 * %.15g, %.16g, %.17g that strtod reads back bit for bit), about 10x faster for the values
 * the generator prints (1e-3 <= x < 1e14): it rounds with exact 128-bit integer arithmetic
 * instead of snprintf + strtod. Other values go through mf_fmt_double itself. The unit test
 * compares both over millions of values. Pure functions, thread-safe. */
#ifndef GEN_FMT_H
#define GEN_FMT_H

#include <stddef.h>
#include <stdint.h>

/* Same contract as mf_fmt_double: returns the length (NUL written), or -1 if it did not
 * fit in `size`. */
int gen_fmt_double(char *buf, size_t size, double x);

/* Writes the decimal digits of v (no NUL). `buf` needs 20 bytes. Returns the length. */
int gen_fmt_u64(char *buf, uint64_t v);

/* Writes k / 1e8 as "<int>.<8 digits>" (what %.8f prints for the double k/1e8, which
 * strtod reads back as exactly that double). `buf` needs 30 bytes. Returns the length. */
int gen_fmt_fixed8(char *buf, uint64_t k);

#endif
