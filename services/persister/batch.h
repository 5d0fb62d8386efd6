/* batch.h: turning bus messages into the partials a sink writes (pure, no I/O).
 *
 * The persister accepts only 1 s rollups with a producer (the (producer, seq) pair is the
 * idempotency key of every sink). A batch may hold the same partial twice (a redelivery that
 * overtook its ack, or a publisher retry outside the duplicate window): pers_dedupe keeps one. */
#ifndef PERS_BATCH_H
#define PERS_BATCH_H

#include <stddef.h>

#include "mf/rollup.h"
#include "mf/status.h"

/* Why a message was refused; indexes the rejected counters. */
typedef enum pers_reject {
    PERS_OK = 0,
    PERS_REJECT_JSON,     /* not a rollup (mf_rollup_from_json failed) */
    PERS_REJECT_WINDOW,   /* not a 1 s rollup */
    PERS_REJECT_PRODUCER, /* no producer: cannot be made idempotent */
    PERS_REJECT_EMPTY,    /* count 0: nothing to merge (acked, not an error) */
    PERS_REJECT_COUNT
} pers_reject;

const char *pers_reject_str(pers_reject r);

/* Parses one payload (borrowed, not NUL-terminated) into `out`. */
pers_reject pers_parse(const char *buf, size_t len, mf_rollup *out);

/* Copies the partials of in[n] into out[n] (caller storage, distinct from in) with each
 * (producer, seq) kept once, ordered by (producer, seq). Returns how many were kept. */
size_t pers_dedupe(const mf_rollup *in, size_t n, mf_rollup *out);

#endif
