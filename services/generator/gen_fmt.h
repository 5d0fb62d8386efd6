/* gen_fmt.h: integer formatting for the generator's hot path (doubles go through
 * mf_fmt_double, which has its own exact fast path). Pure functions, thread-safe. */
#ifndef GEN_FMT_H
#define GEN_FMT_H

#include <stddef.h>
#include <stdint.h>

/* Writes the decimal digits of v (no NUL). `buf` needs 20 bytes. Returns the length. */
int gen_fmt_u64(char *buf, uint64_t v);

/* Writes k / 1e8 as "<int>.<8 digits>" (what %.8f prints for the double k/1e8, which
 * strtod reads back as exactly that double). `buf` needs 30 bytes. Returns the length. */
int gen_fmt_fixed8(char *buf, uint64_t k);

#endif
