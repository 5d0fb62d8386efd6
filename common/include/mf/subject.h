/* subject.h: every public NATS subject of the bus contract (docs/design.md sections 4 and 11),
 * built and parsed in one place.
 *
 *   <prefix>.ticks.<exchange>.<symbol>              tick            (collector)
 *   <prefix>.rollups.<1s|1m>.<exchange>.<symbol>    rollup partial  (aggregator)
 *   <prefix>.latest.<exchange>.<symbol>             latest price    (aggregator)
 *   <prefix>.control.mode                           control-mode    (api, any client; control.h)
 *   <prefix>.status.<service>.<instance>            status          (every service)
 * second wave (builders only):
 *   <prefix>.depth.<exchange>.<symbol>, <prefix>.depth.snapshot.<exchange>.<symbol>,
 *   <prefix>.book.<exchange>.<symbol>, <prefix>.coverage.<exchange>.<symbol>,
 *   <prefix>.candles.<interval>.<exchange>.<symbol>, <prefix>.stats.<exchange>.<symbol>
 *
 * Exchange, symbol and candle-interval tokens must match [A-Za-z0-9_-]{1,32} (mf_token_valid);
 * status service and instance tokens use the same characters, up to MF_SUBJECT_INSTANCE_MAX
 * long (instance ids carry a host name and a pid). `prefix` is the configured nats.prefix
 * (mf_nats_prefix), without a trailing dot.
 *
 * Builders write a NUL-terminated subject into buf[size] and return its length, or -1 when a
 * token is invalid or the subject does not fit (buf is then unspecified). They use no printf:
 * the tick subject is built once per tick. Pure functions, thread-safe. */
#ifndef MF_SUBJECT_H
#define MF_SUBJECT_H

#include <stddef.h>

#include "mf/tick.h"

/* Room for any subject of the contract under a prefix of up to 63 characters. */
#define MF_SUBJECT_MAX 256
#define MF_SUBJECT_INSTANCE_MAX 63

/* The families: the token(s) right after the prefix. */
typedef enum mf_subject_family {
    MF_SUBJECT_TICKS = 0,      /* ticks.<exchange>.<symbol> */
    MF_SUBJECT_ROLLUPS_1S,     /* rollups.1s.<exchange>.<symbol> */
    MF_SUBJECT_ROLLUPS_1M,     /* rollups.1m.<exchange>.<symbol> */
    MF_SUBJECT_LATEST,         /* latest.<exchange>.<symbol> */
    MF_SUBJECT_DEPTH,          /* depth.<exchange>.<symbol> */
    MF_SUBJECT_DEPTH_SNAPSHOT, /* depth.snapshot.<exchange>.<symbol> (request-reply) */
    MF_SUBJECT_BOOK,           /* book.<exchange>.<symbol> */
    MF_SUBJECT_COVERAGE,       /* coverage.<exchange>.<symbol> */
    MF_SUBJECT_STATS,          /* stats.<exchange>.<symbol> */
    MF_SUBJECT_KEYED_COUNT,    /* families above take <exchange>.<symbol>; those below do not */
    MF_SUBJECT_ROLLUPS = MF_SUBJECT_KEYED_COUNT, /* rollups (every window; wildcards only) */
    MF_SUBJECT_CANDLES,                          /* candles.<interval>.<exchange>.<symbol> */
    MF_SUBJECT_CONTROL,                          /* control.mode */
    MF_SUBJECT_STATUS,                           /* status.<service>.<instance> */
    MF_SUBJECT_FAMILY_COUNT
} mf_subject_family;

/* "ticks", "rollups.1s", ..., "status": the family's tokens. NULL when out of range. */
const char *mf_subject_family_str(mf_subject_family f);

/* "<prefix>.<family>." : the common start of a keyed family's subjects, for
 * mf_subject_key_on. Works for every family. */
int mf_subject_base(char *buf, size_t size, const char *prefix, mf_subject_family f);

/* `base` (from mf_subject_base) followed by "<exchange>.<symbol>". The hot-path form:
 * the base is built once, each call only copies and checks the two tokens. */
int mf_subject_key_on(char *buf,
                      size_t size,
                      const char *base,
                      const char *exchange,
                      const char *symbol);

/* "<prefix>.<family>.<exchange>.<symbol>" for a keyed family (f < MF_SUBJECT_KEYED_COUNT). */
int mf_subject_key(char *buf,
                   size_t size,
                   const char *prefix,
                   mf_subject_family f,
                   const char *exchange,
                   const char *symbol);

/* The subject of a bus tick: mf_subject_key_on(base of MF_SUBJECT_TICKS, t->exchange, ...). */
int mf_subject_tick(char *buf, size_t size, const char *ticks_base, const mf_tick *t);

/* "<prefix>.rollups.<window>.<exchange>.<symbol>"; `window` is "1s" or "1m". */
int mf_subject_rollup(char *buf,
                      size_t size,
                      const char *prefix,
                      const char *window,
                      const char *exchange,
                      const char *symbol);

/* "<prefix>.candles.<interval>.<exchange>.<symbol>"; the interval is a token ("1m", "1h"). */
int mf_subject_candles(char *buf,
                       size_t size,
                       const char *prefix,
                       const char *interval,
                       const char *exchange,
                       const char *symbol);

/* "<prefix>.control.mode". */
int mf_subject_control_mode(char *buf, size_t size, const char *prefix);

/* "<prefix>.status.<service>.<instance>". */
int mf_subject_status(char *buf,
                      size_t size,
                      const char *prefix,
                      const char *service,
                      const char *instance);

/* "<prefix>.<family>.>": every subject of a family, for subscriptions and stream subjects
 * (MF_SUBJECT_ROLLUPS gives "<prefix>.rollups.>", MF_SUBJECT_CONTROL "<prefix>.control.>"). */
int mf_subject_all(char *buf, size_t size, const char *prefix, mf_subject_family f);

/* A parsed first-wave subject. For keyed families `a` is the exchange and `b` the symbol;
 * for MF_SUBJECT_STATUS `a` is the service and `b` the instance; for MF_SUBJECT_CONTROL
 * (only control.mode is a subject of the contract) both are empty. */
typedef struct mf_subject_parts {
    mf_subject_family family;
    char a[MF_NAME_MAX + 1];
    char b[MF_SUBJECT_INSTANCE_MAX + 1];
} mf_subject_parts;

/* Parses `subject` (len bytes, need not be NUL-terminated) under `prefix` into *out. Knows
 * ticks, rollups.1s, rollups.1m, latest, control.mode and status. Returns 0, or -1 when the
 * subject is not one of those, has another prefix, or carries an invalid token. */
int mf_subject_parse(const char *subject, size_t len, const char *prefix, mf_subject_parts *out);

#endif
