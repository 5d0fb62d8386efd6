/* gen_stream.h: the line stream of one simulated exchange feed (pure logic, no I/O).
 *
 * A stream owns a PRNG (xoshiro256**, seeded through splitmix64 from seed + feed index), one
 * random walk per symbol and the fault injector. Each step takes the next symbol in
 * round-robin order, moves its price and appends the line(s) of that step to a buffer: the
 * normal line, then a duplicate and/or a malformed line when the faults say so. Everything
 * but timestamps (the caller's wall clock) is a function of the seed and configuration, so
 * two streams built alike produce the same prices, quantities, sides and faults.
 *
 * Not thread-safe: one stream per feed thread. */
#ifndef GEN_STREAM_H
#define GEN_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "mf/status.h"

#define GEN_MAX_SYMBOLS 64
#define GEN_SYMBOL_MAX 20
/* Longest output of one step: normal + duplicate + an overlong malformed line. */
#define GEN_STEP_MAX 16384
/* Length of the overlong malformed line (above DESIGN's 4 KiB line limit). */
#define GEN_OVERLONG_LEN 5000

/* ---- PRNG ------------------------------------------------------------------------------ */

typedef struct gen_rng {
    uint64_t s[4];
} gen_rng;

void gen_rng_seed(gen_rng *r, uint64_t seed);
uint64_t gen_rng_next(gen_rng *r);
double gen_rng_uniform(gen_rng *r); /* [0, 1), 53 random bits */
double gen_rng_normal(gen_rng *r);  /* standard normal (Box-Muller, no caching) */

/* ---- faults ----------------------------------------------------------------------------- */

typedef struct gen_faults {
    double malformed;       /* probability per step of an extra malformed line */
    double duplicate;       /* probability per step that the normal line is sent twice */
    double reorder;         /* probability per step that the line's timestamp is older */
    int disconnect_every_s; /* 0 = never: close every client of the feed this often */
    int pause_every_s;      /* 0 = never: stop sending for pause_ms this often */
    int pause_ms;
} gen_faults;

/* Parses "malformed=0.01,duplicate=0.01,reorder=0.01,disconnect_every_s=5,pause_every_s=7,
 * pause_ms=1500" (any subset, any order; "" or "none" = no faults). MF_ERR_CONFIG with one
 * line in err on an unknown key, a bad number or a probability outside [0, 1]. */
mf_status gen_faults_parse(const char *spec, gen_faults *out, char *err, size_t errlen);

/* Kinds of malformed line (each is rejected by the collector's rules of docs/design.md section 3). */
typedef enum gen_malformed {
    GEN_BAD_TRUNCATED = 0, /* a normal line cut before its closing brace */
    GEN_BAD_NAN,           /* "price":NaN */
    GEN_BAD_NEGATIVE,      /* price < 0 */
    GEN_BAD_ZERO,          /* price 0 */
    GEN_BAD_SYMBOL,        /* symbol outside [A-Z0-9]{2,20} */
    GEN_BAD_OVERLONG,      /* a valid object longer than 4 KiB */
    GEN_BAD_NOT_JSON,      /* text that is not JSON */
    GEN_BAD_MISSING,       /* no price field */
    GEN_BAD_STRING_PRICE,  /* "price":"123.4" */
    GEN_BAD_INFINITE,      /* "price":1e999 */
    GEN_BAD_COUNT
} gen_malformed;

/* ---- symbols ---------------------------------------------------------------------------- */

typedef struct gen_symbol {
    char name[GEN_SYMBOL_MAX + 1];
    double start;    /* starting price */
    double x;        /* log(price / start): the walk state */
    double price;    /* current price = start * exp(x) */
    double qty_base; /* median trade size (about 1000 USD worth) */
    char prefix[48]; /* {"symbol":"<name>","price": */
    size_t prefix_len;
} gen_symbol;

/* Parses a symbol list "BTCUSDT,XRPUSDT:0.62,..." (empty = the five defaults). A symbol is
 * [A-Z0-9]{2,20}; ":price" sets its starting price (required for symbols without a built-in
 * one: BTCUSDT 100000, DOGEUSDT 0.3, TONUSDT 3.9, SOLUSDT 200, ETHUSDT 3050). Duplicates are
 * rejected. Fills out[GEN_MAX_SYMBOLS] and *n. */
mf_status gen_symbols_parse(const char *list, gen_symbol *out, int *n, char *err, size_t errlen);

/* ---- stream ----------------------------------------------------------------------------- */

typedef struct gen_stream_stats {
    long long steps;      /* normal lines (walk steps) */
    long long malformed;  /* extra malformed lines */
    long long duplicates; /* extra duplicated lines */
    long long reordered;  /* normal lines sent with an older timestamp */
} gen_stream_stats;

typedef struct gen_stream {
    gen_rng rng;
    gen_symbol sym[GEN_MAX_SYMBOLS];
    int nsym;
    int next_sym;
    int extended;
    int64_t next_id; /* extended mode: id of the next normal line, from 1 */
    gen_faults faults;
    int64_t last_ts; /* timestamp of the previous normal line */
    gen_stream_stats stats;
} gen_stream;

/* Initialises a stream. `symbols` as gen_symbols_parse; seed and feed_index pick the PRNG
 * state (seed + feed_index through splitmix64). MF_ERR_CONFIG on a bad symbol list. */
mf_status gen_stream_init(gen_stream *s,
                          const char *symbols,
                          uint64_t seed,
                          int feed_index,
                          int extended,
                          const gen_faults *faults,
                          char *err,
                          size_t errlen);

/* Performs one step at wall-clock time now_ms and appends its lines, each ending in '\n', to
 * buf (which must have GEN_STEP_MAX bytes free). Returns the bytes appended and adds the
 * number of lines to *nlines. */
size_t gen_stream_step(gen_stream *s, int64_t now_ms, char *buf, int *nlines);

/* Writes one normal line (no newline) for symbol `sym` at `price`, `ts` into buf (at least
 * 256 bytes); extended fields are added when has_ext. Returns the length. Exposed for tests. */
size_t gen_format_line(char *buf,
                       const gen_symbol *sym,
                       double price,
                       int64_t ts,
                       int has_ext,
                       uint64_t qty_e8,
                       int64_t id,
                       int buy);

/* Writes a malformed line of `kind` (no newline) into buf (GEN_OVERLONG_LEN + 256 bytes).
 * `cut` in [0, 1) picks where a truncated line ends. Returns the length. */
size_t
gen_format_malformed(char *buf, gen_malformed kind, const gen_symbol *sym, int64_t ts, double cut);

#endif
